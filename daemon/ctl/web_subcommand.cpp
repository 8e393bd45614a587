#include "ctl/web_subcommand.hpp"

#include "ctl/commands.hpp"

// As in main.cpp: GCC 12 reports a null dereference inside CLI11's split() that does not exist.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <CLI/CLI.hpp>
#pragma GCC diagnostic pop

#include <iostream>
#include <memory>

namespace pgtq::ctl {

void add_web_subcommand(CLI::App& app, const std::string& dsn, int& exit_code) {
  auto options = std::make_shared<WebOptions>();
  auto* web = app.add_subcommand(
      "web",
      "serve the web dashboard (queues, tasks, failures, workers, schedules) until Ctrl-C; "
      "read-only on a loopback address without credentials");
  web->add_option("--listen",
                  options->listen,
                  "HOST:PORT to serve at (default 127.0.0.1:8080; port 0: one the system "
                  "picks, printed at start); other than loopback only with credentials");
  web->add_option("--password-file",
                  options->password_file,
                  "a file holding the password that logs in and allows actions (default: the "
                  "PGTQ_WEB_PASSWORD environment variable; neither: read-only)");
  web->add_option("--allowed-host",
                  options->allowed_hosts,
                  "NAME[:PORT] a Host header may name besides the listen address, localhost, "
                  "127.0.0.1 and [::1] (repeatable; a NAME alone: any port), e.g. the public "
                  "name a reverse proxy passes on; any other Host gets 421")
      ->allow_extra_args(false); // one value each time it is given
  web->add_option("--refresh",
                  options->refresh,
                  "seconds between reloads of the queues page, 0 for none (default 10)");
  web->add_option("--sample-interval",
                  options->sample_interval,
                  "seconds between readings of the queue depths for their plots (default 5)");
  web->callback(
      [options, &dsn, &exit_code] { exit_code = pgtq::ctl::web(dsn, *options, std::cout); });
}

} // namespace pgtq::ctl
