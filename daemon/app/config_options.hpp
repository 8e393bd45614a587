#pragma once

#include "app/config.hpp"

#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace pgtq::app {

// pgtqd's options, each declared once in one table (pgbouncer's bouncer_params[], ccache's
// k_config_key_table) that drives the command line, the config file, the PGTQ_*
// variables, the range checks and --help.
enum class OptionKind {
  text,    // a string; checked by the option's own rule
  choice,  // one of a fixed set of words
  integer, // a whole number in [min, max]
  seconds, // a finite number of seconds in [min, max], fractions allowed (0.5)
  number,  // a finite number in [min, max]
  flag,    // true/false (also yes/no, on/off, 1/0); --name and --no-name on the command line
};

using OptionField = std::variant<std::string Config::*,
                                 int Config::*,
                                 Duration Config::*,
                                 double Config::*,
                                 bool Config::*>;

struct OptionSpec {
  std::string_view name; // --name, the config key, and PGTQ_NAME (upper case, "-" -> "_")
  OptionKind kind;
  OptionField field;
  // As a config file spells it; Config() starts from it. Empty: none (queue, plugin-dir),
  // or the empty text.
  std::string_view default_value{};
  double min = 0;             // integer, seconds, number: the range; text: the least length
  double max = 0;             // text: the greatest length in bytes
  std::string_view choices{}; // choice: the words, separated by "|"
  // text: returns what is wrong with a value, or an empty string.
  std::string (*check)(std::string_view value) = nullptr;
  bool secret = false; // never echo the value in a message (dsn)
  // text: the command line may give it several times; the values are joined by ", ".
  bool repeatable = false;

  // The documentation, from which --help, the README's option table and the example config
  // are generated (config_reference.hpp); plain text, no markup.
  std::string_view help{};         // one line: what the option does
  std::string_view allowed_note{}; // the allowed values, where the range does not say it all
  std::string_view default_note{}; // the default, where the value does not say it
  std::string_view details{};      // the example config's comment; empty: help
};
// Every option, in --help order.
const std::vector<OptionSpec>& option_table();
// The option called name, or nullptr.
const OptionSpec* find_option(std::string_view name);
// "plugin-dir" -> "PGTQ_PLUGIN_DIR".
std::string env_name(std::string_view option);
// The allowed values of an option, as a sentence fragment: "1 to 1024", "fail or skip".
std::string describe_range(const OptionSpec& spec);
// The allowed values for the documentation: allowed_note, else describe_range().
std::string describe_allowed(const OptionSpec& spec);
// The option's value in config, as --help shows a default and a config file spells it.
std::string show_value(const OptionSpec& spec, const Config& config);

// Checks value against the option's kind and range and stores it in config. Throws
// ConfigError saying what is wrong with it; the caller adds where it came from.
void set_option(Config& config, const OptionSpec& spec, std::string_view value);

// The closest option name to a misspelt one, when it is close enough to be a likely typo
// (at most 1 edit for names up to 4 characters, 2 beyond); else an empty string.
std::string closest_option(std::string_view name);

} // namespace pgtq::app
