// pgtqd: the pgtq worker daemon. Reads the command line, the config file and the PGTQ_*
// variables into a Config and runs the App; the only place that catches everything.
#include "app/app.hpp"
#include "app/config.hpp"
#include "app/config_options.hpp"
#include "app/config_reference.hpp"
#include "app/config_sources.hpp"
#include "app/host_name.hpp"
#include "app/install_paths.hpp"
#include "app/logging.hpp"
#include "app/worker_main.hpp"
#include "db/migrator.hpp"
#include "db/privileges.hpp"

#include <CLI/CLI.hpp>
#include <build_config.hpp>
#include <spdlog/spdlog.h>

#include <unistd.h>

#include <iostream>
#include <map>
#include <string_view>

namespace {

using pgtq::app::OptionKind;
using pgtq::app::Setting;

std::string default_worker_name() {
  return pgtq::app::host_name() + ":" + std::to_string(::getpid());
}

// The command line, as text per option: converted and checked by the option table, like
// the file and the environment, so all three give the same messages.
struct CommandLine {
  std::string config_path;
  std::map<std::string, std::string> values;             // --name VALUE
  std::map<std::string, std::vector<std::string>> flags; // --name[=VALUE], --no-name
  std::map<std::string, std::vector<std::string>> lists; // --name A --name B (repeatable)
  std::map<std::string, CLI::Option*> options;

  std::vector<Setting> settings() const {
    std::vector<Setting> given;
    for (const auto& [name, option] : options) {
      if (option->count() == 0) {
        continue;
      }
      const std::string origin = "command line option --" + name;
      if (const auto flag = flags.find(name); flag != flags.end()) {
        for (const std::string& value : flag->second) { // each checked; the last one wins
          given.push_back({name, value, origin});
        }
      } else if (const auto list = lists.find(name); list != lists.end()) {
        std::string joined;
        for (const std::string& value : list->second) {
          joined += (joined.empty() ? "" : ", ") + value;
        }
        given.push_back({name, joined, origin});
      } else {
        given.push_back({name, values.at(name), origin});
      }
    }
    return given;
  }
};

std::string type_name(const pgtq::app::OptionSpec& spec) {
  switch (spec.kind) {
  case OptionKind::choice:
    return std::string(spec.choices);
  case OptionKind::integer:
    return "N";
  case OptionKind::seconds:
    return "SECONDS";
  case OptionKind::number:
    return "NUMBER";
  case OptionKind::flag:
    return "";
  case OptionKind::text:
    break;
  }
  return "TEXT";
}

void add_options(CLI::App& app, CommandLine& line, const pgtq::app::Config& defaults) {
  for (const pgtq::app::OptionSpec& spec : pgtq::app::option_table()) {
    const std::string name(spec.name);
    const std::string help = pgtq::app::option_help(spec);
    CLI::Option* option = nullptr;
    if (spec.kind == OptionKind::flag) {
      option = app.add_flag("--" + name + ",!--no-" + name, line.flags[name], help)
                   ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
    } else if (spec.repeatable) {
      option = app.add_option("--" + name, line.lists[name], help)->allow_extra_args(false);
    } else {
      option = app.add_option("--" + name, line.values[name], help);
    }
    option->type_name(type_name(spec))->default_str(pgtq::app::show_value(spec, defaults));
    line.options[name] = option;
  }
}

} // namespace

int main(int argc, char** argv) {
  if (argc >= 2 && std::string_view(argv[1]) == pgtq::app::k_worker_process_flag) {
    return pgtq::app::worker_main(argc, argv);
  }
  pgtq::app::Config defaults;
  defaults.plugin_dir = pgtq::app::default_plugin_dir();

  CLI::App app{"pgtqd: runs the tasks of pgtq queues with handler plugins.\n"
               "Every option --NAME is also the key NAME of the config file and the environment "
               "variable PGTQ_NAME (upper case, - becomes _). The command line overrides the "
               "environment, which overrides the config file, which overrides the defaults "
               "shown."};
  app.set_version_flag("--version", pgtq::build::k_version);
  CommandLine line;
  app.add_option("--config",
                 line.config_path,
                 "read settings from this file: \"key = value\" lines, keys as the long "
                 "options; environment PGTQ_CONFIG");
  add_options(app, line, defaults);
  std::string reference;
  app.add_option("--print-config-reference",
                 reference,
                 "print the options' documentation and exit: markdown (the README's table) or "
                 "conf (an example config file with every option at its default)")
      ->check(CLI::IsMember({"markdown", "conf"}));

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    const int code = app.exit(error);
    return code == 0 ? 0 : pgtq::app::k_exit_config;
  }

  if (reference == "markdown") {
    std::cout << pgtq::app::markdown_table();
    return 0;
  }
  if (reference == "conf") {
    std::cout << pgtq::app::example_config(defaults, pgtq::build::k_conf_dir);
    return 0;
  }

  pgtq::app::Config config;
  std::vector<std::string> ignored_variables;
  try {
    pgtq::app::EnvironmentSettings environment = pgtq::app::environment_settings(environ);
    ignored_variables = std::move(environment.ignored);
    std::string config_path = line.config_path;
    if (config_path.empty()) {
      config_path = environment.config_path.value_or("");
    }
    // Rising precedence: the file, then the environment, then the command line.
    std::vector<Setting> settings;
    if (!config_path.empty()) {
      settings = pgtq::app::file_settings(config_path);
    }
    settings.insert(settings.end(), environment.settings.begin(), environment.settings.end());
    const std::vector<Setting> given = line.settings();
    settings.insert(settings.end(), given.begin(), given.end());
    config = pgtq::app::configure(std::move(defaults), settings);
  } catch (const pgtq::app::ConfigError& error) {
    std::cerr << "pgtqd: configuration error: " << error.what() << '\n';
    return pgtq::app::k_exit_config;
  }
  if (config.worker_name.empty()) {
    config.worker_name = default_worker_name();
  }

  try {
    pgtq::app::setup_logging(config.log_level);
    if (!ignored_variables.empty()) {
      std::string names;
      for (const std::string& name : ignored_variables) {
        names += (names.empty() ? "" : ", ") + name;
      }
      spdlog::warn("environment: {} not pgtqd options; ignored", names);
    }
    return pgtq::app::App(std::move(config)).run();
  } catch (const pgtq::app::ConfigError& error) {
    std::cerr << "pgtqd: configuration error: " << error.what() << '\n';
    return pgtq::app::k_exit_config;
  } catch (const pgtq::db::SchemaMismatch& error) {
    spdlog::critical("{}", error.what());
    return pgtq::app::k_exit_config;
  } catch (const pgtq::db::PrivilegeMissing& error) {
    spdlog::critical("{}", error.what());
    return pgtq::app::k_exit_config;
  } catch (const std::exception& error) {
    spdlog::critical("{}", error.what());
    return pgtq::app::k_exit_failure;
  }
}
