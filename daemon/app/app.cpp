#include "app/app.hpp"

#include "app/component_settings.hpp"
#include "app/metrics_endpoint.hpp"
#include "app/plugin_schedules.hpp"
#include "app/queue_loops.hpp"
#include "app/signals.hpp"
#include "app/systemd_notifier.hpp"
#include "app/watchdog_pacer.hpp"
#include "db/connection.hpp"
#include "db/conninfo.hpp"
#include "db/migrator.hpp"
#include "db/pg_error.hpp"
#include "db/privileges.hpp"
#include "plugin/plugin_set.hpp"
#include "queue/backoff.hpp"
#include "queue/scheduler.hpp"
#include "queue/sessions.hpp"

#include <build_config.hpp>
#include <spdlog/spdlog.h>

#include <cstdlib>
#include <optional>

namespace pgtq::app {
namespace {

using Clock = std::chrono::steady_clock;

// A connection for the daemon's setup work (migrations, the plugins' schedules), READ
// COMMITTED, named as the migrator.
db::Connection setup_connection(const Config& config, db::SessionSettings settings = {}) {
  settings.read_committed = true;
  db::Connection connection(
      config.dsn, queue::application_name(connection_settings(config), "migrate"), settings);
  connection.use_prepared_statements(config.prepared_statements);
  return connection;
}

// Applies the migrations (with --migrate), checks the schema and the role's rights (it may
// claim from each of queue_names) and registers the plugins' default schedules. Waits for the
// database to accept connections; false: a stop request came meanwhile. Throws
// SchemaMismatch, PrivilegeMissing.
bool prepare_database(const Config& config,
                      const plugin::PluginSet& plugins,
                      const std::vector<std::string>& queue_names) {
  queue::RetryBackoff backoff; // jittered: daemons restarted together do not retry together
  for (;;) {
    try {
      db::Connection connection = setup_connection(config);
      const db::Migrator migrator;
      if (config.migrate) {
        for (const auto& migration : migrator.migrate(connection)) {
          spdlog::info("applied migration {}", migration.file_name);
        }
      }
      db::require_worker_privileges(connection);
      migrator.require_current(connection);
      db::require_claim_rights(connection, queue_names, config.worker_name);
      if (const std::string warning = db::session_visibility_warning(connection);
          !warning.empty()) {
        spdlog::warn("{}", warning);
      }
      register_plugin_schedules(connection, plugins.registry());
      return true;
    } catch (const db::PgError& error) {
      if (!error.is_connection_error()) {
        throw;
      }
      spdlog::warn("waiting for the database: {}", error.what());
    }
    if (wait_for_signal(backoff.next()) == Signal::terminate) {
      return false;
    }
  }
}

// SIGHUP: the plugin directory loaded again as a new generation, or nothing (logged) when
// any file of it does not load, so that the plugins loaded before keep serving. Only the
// plugins: the configuration is read at start.
std::shared_ptr<const plugin::PluginSet> reload_plugins(const plugin::PluginSet::Options& options,
                                                        int generation) {
  spdlog::info("SIGHUP: reloading the plugins of {} (the configuration is read at start only)",
               options.dir);
  try {
    auto plugins = plugin::PluginSet::load(options, generation);
    spdlog::info("plugins reloaded (generation {}): handling tasks: {}; running tasks finish on "
                 "the plugins they started with",
                 generation,
                 plugins->names_text());
    return plugins;
  } catch (const std::exception& error) {
    spdlog::error("plugin reload refused, the plugins loaded before keep serving: {}",
                  error.what());
    return nullptr;
  }
}

// After a reload, on a connection of its own: the reloaded plugins' default schedules. A
// failure is logged; the next start or reload registers them again.
void register_reloaded_schedules(const Config& config, const plugin::PluginSet& plugins) {
  if (plugins.registry().schedules().empty()) {
    return;
  }
  try {
    // The main thread waits: an operator's transaction holding a schedule's row must not
    // hold it (and the signals and watchdog it serves) for long.
    db::Connection connection = setup_connection(
        config,
        {.lock_timeout = std::chrono::seconds(1), .statement_timeout = std::chrono::seconds(10)});
    register_plugin_schedules(connection, plugins.registry());
  } catch (const db::PgError& error) {
    spdlog::error("the reloaded plugins' schedules were not registered: {}", error.what());
  }
}

} // namespace

int App::run() {
  block_signals(); // before any thread starts, so that all of them inherit the mask
  install_crash_reporter();
  // Until the main loop below takes signals, a stop request ends the process at once, even
  // while a plugin's init() or a connection attempt blocks this thread.
  std::optional<StartupSignalWatch> startup_watch(std::in_place);
  SystemdNotifier notifier;
  const std::vector<QueueEntry> queues = parse_queue_list(m_config.queue);
  spdlog::info("pgtqd {} starting: queue{} {}, database {}, plugins from {}",
               build::k_version,
               queues.size() == 1 ? "" : "s",
               queue_names(queues),
               db::redact_conninfo(m_config.dsn),
               m_config.plugin_dir);

  plugin::PluginSet::Options plugin_options{
      .dir = m_config.plugin_dir,
      .backoff = backoff_policy(m_config),
      .config_dir = m_config.plugin_config_dir,
      .policy = {.check_permissions = m_config.plugin_dir_checks != "off",
                 .skip_failures = m_config.plugin_load_errors == "skip"}};
  std::shared_ptr<const plugin::PluginSet> plugins;
  try {
    plugins = plugin::PluginSet::load(plugin_options, 1);
  } catch (const std::runtime_error& error) {
    throw ConfigError(error.what());
  }
  spdlog::info("handling tasks: {}", plugins->names_text());
  // A reload is all or nothing: a file that does not load keeps the old plugins serving.
  plugin_options.policy.skip_failures = false;

  notifier.status("connecting to the database");
  std::vector<std::string> names;
  for (const QueueEntry& queue : queues) {
    names.push_back(queue.name);
  }
  if (!prepare_database(m_config, *plugins, names)) {
    return k_exit_ok;
  }
  startup_watch.reset(); // from here on the main loop drains on SIGTERM

  int workers = 0;
  for (const QueueEntry& queue : queues) {
    workers += queue.concurrency.value_or(m_config.concurrency);
  }
  if (m_config.isolation == "process") {
    spdlog::info("isolation = process: {} worker processes; timeouts are enforced (grace {:g} s)",
                 workers,
                 std::chrono::duration<double>(m_config.timeout_grace).count());
  } else {
    spdlog::info("isolation = thread: {} worker threads in pgtqd; a crashing handler stops pgtqd, "
                 "and timeouts are cooperative only (should_stop() turns true, nothing is "
                 "killed)",
                 workers);
    if (m_config.worker_memory_limit > 0) {
      spdlog::warn("worker-memory-limit applies to worker processes only; with isolation = "
                   "thread it is ignored");
    }
  }
  QueueLoops loops(m_config, plugins);
  queue::Scheduler scheduler(scheduler_settings(m_config));
  // Listening before the first claim: an address that cannot be listened on stops pgtqd
  // (status 78) before it takes any task.
  std::optional<MetricsEndpoint> metrics;
  if (!m_config.metrics_listen.empty()) {
    metrics.emplace(m_config, loops, m_config.scheduler ? &scheduler : nullptr);
  }
  loops.start();
  if (m_config.scheduler) {
    scheduler.start();
  }

  const auto longest_wait = claim_loop_longest_wait(m_config.poll_interval);
  std::optional<WatchdogPacer> watchdog;
  if (const auto interval = notifier.watchdog_interval()) {
    watchdog.emplace(std::chrono::duration_cast<Clock::duration>(*interval), longest_wait);
  }
  // Short, so that a finished drain ends the process promptly.
  const auto tick = std::chrono::milliseconds(200);
  bool announced = false;
  bool draining = false;
  auto next_status = Clock::now();
  while (!loops.finished()) {
    const Signal signal = wait_for_signal(tick);
    if (signal == Signal::terminate && !loops.any_ready()) {
      // The claim loop has not connected yet (it may be blocked in libpq for as long as
      // connect_timeout allows): nothing is claimed, so there is nothing to drain.
      spdlog::info("shutdown requested before the first connection; exiting");
      spdlog::default_logger_raw()->flush();
      std::_Exit(k_exit_ok);
    }
    if (signal == Signal::terminate) {
      if (loops.drain()) {
        spdlog::info("shutdown requested; send the signal again to stop at once");
        notifier.stopping(loops.status_line());
        draining = true;
      } else {
        spdlog::info("second shutdown request: releasing unfinished tasks now");
        loops.stop_at_once();
      }
    } else if (signal == Signal::hangup && !draining) {
      notifier.reloading(loops.status_line() + ", reloading plugins");
      if (auto reloaded = reload_plugins(plugin_options, plugins->generation() + 1)) {
        plugins = std::move(reloaded);
        loops.use_plugins(plugins);
        register_reloaded_schedules(m_config, *plugins);
      }
      notifier.ready(loops.status_line());
    }
    if (!announced && !draining && loops.ready()) {
      announced = true;
      notifier.ready(loops.status_line());
    }
    const auto now = Clock::now();
    if (now >= next_status) {
      notifier.status(loops.status_line());
      next_status = now + std::chrono::seconds(2);
    }
    // Only loops that still turn are healthy; a hung one lets systemd restart us.
    if (watchdog && watchdog->due(now, loops.oldest_turn())) {
      notifier.watchdog();
    }
  }

  metrics.reset(); // its thread logs: it must be gone before the logger may be
  scheduler.stop();
  loops.join();
  const bool workers_idle = loops.wait_workers_idle(std::chrono::seconds(2));
  spdlog::info("stopped: {} done, {} failed", loops.succeeded(), loops.failed());
  if (!workers_idle) {
    // A handler ignored should_stop(); its thread still runs plugin code and will hand its
    // outcome to the claim loop, so neither the claim loop, nor the plugins, nor the process's
    // static objects can be torn down under it.
    spdlog::warn("a handler did not return in time; exiting without unloading plugins");
    spdlog::shutdown();
    std::_Exit(k_exit_ok);
  }
  return k_exit_ok; // the loops go first, then the plugins: their last holder unloads them
}

} // namespace pgtq::app
