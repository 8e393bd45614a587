#pragma once

#include "app/config.hpp"
#include "app/config_options.hpp"

#include <string>
#include <string_view>

namespace pgtq::app {

// The documentation of the options, generated from the option table so that it cannot
// drift from what pgtqd accepts: pgtqd --help, pgtqd --print-config-reference=markdown (the
// README's option table) and =conf (the example config shipped in packaging/). Tests compare
// README.md and packaging/systemd/example.conf.in with these.

// An option's --help line: its help and the allowed values.
std::string option_help(const OptionSpec& spec);

// The README's option table: a Markdown table, a row per option.
std::string markdown_table();

// The example config: every option, commented out at its default (the ones of defaults,
// whose plugin_dir is the directory to show), each with its documentation. conf_dir: where
// the configs go (/etc/pgtq).
std::string example_config(const Config& defaults, std::string_view conf_dir);

} // namespace pgtq::app
