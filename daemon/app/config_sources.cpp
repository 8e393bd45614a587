#include "app/config_sources.hpp"

#include "app/config_file.hpp"
#include "app/config_options.hpp"

#include <string_view>

namespace pgtq::app {
namespace {

constexpr std::string_view k_prefix = "PGTQ_";

// "PGTQ_PLUGIN_DIR" -> "plugin-dir".
std::string option_name_of(std::string_view env) {
  std::string name;
  for (const char c : env.substr(k_prefix.size())) {
    name += c == '_' ? '-' : static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  }
  return name;
}

} // namespace

std::vector<Setting> file_settings(const std::string& path) {
  std::vector<Setting> settings;
  for (FileSetting& setting : read_config_file(path)) {
    settings.push_back({std::move(setting.key),
                        std::move(setting.value),
                        path + " line " + std::to_string(setting.line)});
  }
  return settings;
}

EnvironmentSettings environment_settings(char** envp) {
  EnvironmentSettings found;
  std::string misspelt;
  for (char** entry = envp; entry != nullptr && *entry != nullptr; ++entry) {
    const std::string_view text(*entry);
    const auto equals = text.find('=');
    const std::string_view name = text.substr(0, equals);
    if (name.substr(0, k_prefix.size()) != k_prefix || equals == std::string_view::npos) {
      continue;
    }
    const std::string value(text.substr(equals + 1));
    if (name == "PGTQ_CONFIG") {
      found.config_path = value;
      continue;
    }
    const std::string option = option_name_of(name);
    // Exactly the option's variable: PGTQ_plugin_dir is not PGTQ_PLUGIN_DIR.
    if (const OptionSpec* spec = find_option(option); spec != nullptr && env_name(option) == name) {
      found.settings.push_back({option, value, "environment variable " + std::string(name)});
    } else if (const std::string near = closest_option(option); !near.empty()) {
      misspelt += (misspelt.empty() ? "" : ", ") + std::string(name) + " (did you mean " +
                  env_name(near) + "?)";
    } else {
      found.ignored.emplace_back(name);
    }
  }
  if (!misspelt.empty()) {
    throw ConfigError("environment: not pgtqd options, but close to one: " + misspelt);
  }
  return found;
}

Config configure(Config defaults, const std::vector<Setting>& settings) {
  Config config = std::move(defaults);
  for (const Setting& setting : settings) {
    const OptionSpec* spec = find_option(setting.key);
    if (spec == nullptr) {
      const std::string near = closest_option(setting.key);
      throw ConfigError(setting.origin + ": unknown key \"" + setting.key + "\"" +
                        (near.empty() ? "" : " (did you mean " + near + "?)"));
    }
    try {
      set_option(config, *spec, setting.value);
    } catch (const ConfigError& error) {
      throw ConfigError(setting.origin + ": " + setting.key + ": " + error.what());
    }
    config.origins[setting.key] = setting.origin;
  }
  config.validate();
  return config;
}

} // namespace pgtq::app
