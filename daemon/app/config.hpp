#pragma once

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

// A duration option: written in seconds (fractions allowed), held exactly in nanoseconds,
// the steady clock's own unit, so deadlines add it without a conversion. Its largest value,
// 100 years, fits (nanoseconds overflow after ~292).
using Duration = std::chrono::nanoseconds;

// Everything pgtqd is told, from the command line, the config file and PGTQ_* variables.
// One field per option of the option table (config_options.cpp), named after it; the
// table holds its default, range and help, so none is written here.
struct Config {
  // Every option at the default the option table gives it (queue and plugin-dir have none).
  Config();

  std::string queue;
  std::string dsn;
  std::string plugin_dir;
  std::string plugin_dir_checks;
  std::string plugin_load_errors;
  std::string plugin_config_dir;
  int concurrency{};
  bool shared_workers{};
  std::string queue_weights; // NAME=W, ...
  std::string prefetch;      // "auto" or 0..10000
  std::string isolation;
  Duration task_timeout{};
  Duration timeout_grace{};
  int worker_memory_limit{}; // MiB
  std::string log_level;
  Duration lease{};
  Duration heartbeat{};
  Duration session_grace{};
  Duration poll_interval{};
  Duration shutdown_grace{};
  Duration backoff_base{};
  double backoff_factor{};
  Duration backoff_cap{};
  bool scheduler{};
  Duration scheduler_interval{};
  bool migrate{};
  bool prepared_statements{};
  std::string worker_name;    // host:pid is filled in by main() when empty
  std::string metrics_listen; // empty: no metrics endpoint

  // Where each setting that was given came from ("/etc/pgtq/q.conf line 3", "environment
  // variable PGTQ_LEASE", "command line option --lease"), for messages; by option name.
  std::map<std::string, std::string> origins;

  // What no single value can say: settings that depend on each other, and those that need
  // a look at the file system. Throws ConfigError naming the settings and where they came
  // from. Each value on its own is checked as it is set (config_options.hpp).
  void validate() const;
};

} // namespace pgtq::app
