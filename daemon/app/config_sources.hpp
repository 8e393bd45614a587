#pragma once

#include "app/config.hpp"

#include <optional>
#include <string>
#include <vector>

namespace pgtq::app {

// One setting as given, with where it came from, for messages.
struct Setting {
  std::string key;
  std::string value;
  std::string origin; // "/etc/pgtq/q.conf line 3", "environment variable PGTQ_LEASE", ...
};

// The config file's settings. Throws ConfigError naming the file (and line).
std::vector<Setting> file_settings(const std::string& path);

// What the PGTQ_* environment variables say.
struct EnvironmentSettings {
  std::vector<Setting> settings;          // PGTQ_<OPTION>
  std::optional<std::string> config_path; // PGTQ_CONFIG: the config file, if no --config
  std::vector<std::string> ignored;       // other PGTQ_* names, e.g. PGTQ_TEST_DSN of the tests
};

// Reads the PGTQ_* variables of envp. A name that is an option's name misspelt (at most two
// letters off, as closest_option() judges) is an error, like an unknown key in the config
// file: throws ConfigError naming every such variable and the option it resembles. Other
// PGTQ_* names are returned as ignored (pgtqd logs a warning): the prefix is also used by
// pgtq's scripts and may be by plugins.
EnvironmentSettings environment_settings(char** envp);

// Applies settings in order to defaults, a later one overriding an earlier one of the same
// key, so the caller lists them by rising precedence (file, environment, command line).
// Each value is checked as it is applied (config_options.hpp), then Config::validate()
// runs. Throws ConfigError naming the key and where the bad value came from.
Config configure(Config defaults, const std::vector<Setting>& settings);

} // namespace pgtq::app
