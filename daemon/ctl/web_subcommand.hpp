#pragma once

#include <string>

namespace CLI {
class App;
}

namespace pgtq::ctl {

// Adds pgtqctl's `web` subcommand to app: its options, and a callback that serves the
// dashboard with the --dsn in dsn (read when it runs) and puts its exit code in exit_code.
// Apart from main.cpp, which holds every other subcommand, to keep that file readable.
void add_web_subcommand(CLI::App& app, const std::string& dsn, int& exit_code);

} // namespace pgtq::ctl
