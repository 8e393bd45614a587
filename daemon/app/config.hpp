#pragma once

#include "plugin/handler_registry.hpp"

#include <chrono>
#include <map>
#include <stdexcept>
#include <string>

namespace pgtq::app {

// A bad option or config file: pgtqd exits 78 (EX_CONFIG), which the systemd unit does not
// restart on.
class ConfigError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

using Seconds = std::chrono::duration<double>;

// Everything pgtqd is told, from the command line, the config file and PGTQ_* variables.
struct Config {
  std::string queue;
  std::string dsn;        // libpq conninfo or URI; empty: PG* environment variables
  std::string plugin_dir; // every *.so in it is loaded
  std::string plugin_dir_checks = "strict"; // or "off": ownership, modes, symlinks unchecked
  std::string plugin_load_errors = "fail";  // or "skip": leave out plugins that do not load
  std::string plugin_config_dir; // plugin NAME reads NAME.conf from here; empty: none
  int concurrency = 8;    // worker threads
  int prefetch = 0;       // tasks claimed beyond the free workers, waiting in memory
  std::string log_level = "info";
  Seconds lease{15};          // how long a claim holds without a heartbeat
  Seconds heartbeat{5};       // how often leases are renewed
  Seconds poll_interval{2};   // claim attempt without a notification (pooler fallback)
  Seconds shutdown_grace{30}; // how long running tasks may finish after SIGTERM
  plugin::BackoffPolicy backoff;
  bool scheduler = true;
  Seconds scheduler_interval{1};
  bool migrate = false;
  bool prepared_statements = true; // off behind a transaction-mode pooler (pgbouncer < 1.21)
  std::string worker_name; // host:pid unless given

  // Where each setting that was given came from ("/etc/pgtq/q.conf line 3", "environment
  // variable PGTQ_LEASE", "command line option --lease"), for messages; by option name.
  std::map<std::string, std::string> origins;

  // What no single value can say: settings that depend on each other, and those that need
  // a look at the file system. Throws ConfigError naming the settings and where they came
  // from. Each value on its own is checked as it is set (config_options.hpp).
  void validate() const;
};

} // namespace pgtq::app
