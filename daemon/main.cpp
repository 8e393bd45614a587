// pgtqd: the pgtq worker daemon. Parses the command line and config file into a Config
// and runs the App; the only place that catches everything.
#include "app/app.hpp"
#include "app/config.hpp"
#include "app/logging.hpp"
#include "db/migrator.hpp"

#include <build_config.hpp>
#include <CLI/CLI.hpp>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <iostream>

namespace {

std::string default_worker_name() {
  char host[256] = "localhost";
  ::gethostname(host, sizeof host - 1);
  return std::string(host) + ":" + std::to_string(::getpid());
}

// Every option is also a config-file key (its long name) and a PGTQ_* variable.
template <typename T>
CLI::Option* add(CLI::App& app, const std::string& name, T& value, const std::string& help) {
  std::string env = "PGTQ_" + name;
  for (char& c : env) {
    c = c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return app.add_option("--" + name, value, help)->envname(env)->capture_default_str();
}

double seconds_of(pgtq::app::Seconds value) { return value.count(); }

} // namespace

int main(int argc, char** argv) {
  using pgtq::app::Config;
  Config config;
  config.plugin_dir = pgtq::build::k_plugin_dir;
  double lease = seconds_of(config.lease), heartbeat = seconds_of(config.heartbeat),
         poll = seconds_of(config.poll_interval), grace = seconds_of(config.shutdown_grace),
         scheduler_interval = seconds_of(config.scheduler_interval);

  CLI::App app{"pgtqd: runs the tasks of one pgtq queue with handler plugins"};
  app.set_version_flag("--version", pgtq::build::k_version);
  app.set_config("--config", "", "read options from this file (key = value, keys as the long options)");
  // A misspelt key in /etc/pgtq/Q.conf must stop the daemon, not silently fall back to a default.
  app.allow_config_extras(CLI::config_extras_mode::error);
  add(app, "queue", config.queue, "the queue to work")->required();
  add(app, "dsn", config.dsn, "libpq conninfo or postgresql:// URI (default: PG* variables)");
  add(app, "plugin-dir", config.plugin_dir, "load every *.so plugin in this directory");
  add(app, "plugin-config-dir", config.plugin_config_dir,
      "a plugin named NAME gets the text of NAME.conf in this directory as its config");
  add(app, "concurrency", config.concurrency, "worker threads");
  add(app, "prefetch", config.prefetch,
      "tasks claimed ahead of free workers, so that a busy daemon claims in larger batches");
  add(app, "log-level", config.log_level, "trace, debug, info, warn or error");
  add(app, "lease", lease, "seconds a claimed task is held without a heartbeat");
  add(app, "heartbeat", heartbeat, "seconds between lease renewals (at most lease/2)");
  add(app, "poll-interval", poll, "seconds between claims when no notification arrives");
  add(app, "shutdown-grace", grace, "seconds running tasks get to finish after SIGTERM");
  add(app, "backoff-base", config.backoff.base_s, "retry delay after the first failure, seconds");
  add(app, "backoff-factor", config.backoff.factor, "retry delay growth per attempt");
  add(app, "backoff-cap", config.backoff.cap_s, "longest retry delay, seconds");
  app.add_flag("--scheduler,!--no-scheduler", config.scheduler,
               "run the scheduler thread (delayed tasks, retries, rescue); on by default")
      ->envname("PGTQ_SCHEDULER");
  add(app, "scheduler-interval", scheduler_interval, "seconds between scheduler ticks");
  app.add_flag("--migrate", config.migrate, "apply schema migrations at start")
      ->envname("PGTQ_MIGRATE");
  app.add_flag("--prepared-statements,!--no-prepared-statements", config.prepared_statements,
               "prepare statements once per connection; off behind a transaction-mode pooler "
               "that cannot carry them (pgbouncer before 1.21)")
      ->envname("PGTQ_PREPARED_STATEMENTS");
  add(app, "worker-name", config.worker_name, "name recorded on claimed tasks (default host:pid)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    const int code = app.exit(error);
    return code == 0 ? 0 : pgtq::app::k_exit_config;
  }
  config.lease = pgtq::app::Seconds(lease);
  config.heartbeat = pgtq::app::Seconds(heartbeat);
  config.poll_interval = pgtq::app::Seconds(poll);
  config.shutdown_grace = pgtq::app::Seconds(grace);
  config.scheduler_interval = pgtq::app::Seconds(scheduler_interval);
  if (config.worker_name.empty()) {
    config.worker_name = default_worker_name();
  }

  try {
    config.validate();
    pgtq::app::setup_logging(config.log_level);
    return pgtq::app::App(std::move(config)).run();
  } catch (const pgtq::app::ConfigError& error) {
    std::cerr << "pgtqd: configuration error: " << error.what() << '\n';
    return pgtq::app::k_exit_config;
  } catch (const pgtq::db::SchemaMismatch& error) {
    spdlog::critical("{}", error.what());
    return pgtq::app::k_exit_config;
  } catch (const std::exception& error) {
    spdlog::critical("{}", error.what());
    return pgtq::app::k_exit_failure;
  }
}
