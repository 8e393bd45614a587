#pragma once

#include "plugin/handler_registry.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace pgtq::queue {

// What each part of the queue runtime is told: small structs that app/ fills from its
// Config (app/component_settings.cpp), so that queue/ knows nothing of options, files or
// the environment. Durations are the steady clock's nanoseconds, added to deadlines as they
// are.
using Duration = std::chrono::nanoseconds;

// How a part opens its database connection.
struct ConnectionSettings {
  std::string dsn;         // libpq conninfo or URI; empty: the PG* environment variables
  std::string queue;       // named in application_name
  std::string worker_name; // named in application_name, recorded on claimed tasks
  bool prepared_statements = true;
};

// What the worker registry (worker_registry.hpp) says about this pgtqd.
struct WorkerIdentity {
  std::string version;            // pgtqd's version
  std::string host = "localhost"; // the machine's (app::host_name())
  int concurrency = 1;            // as configured
  bool processes = true;          // isolation = process
};

// The lease keeper (lease_keeper.hpp), which also keeps the worker registry's row.
struct LeaseKeeperSettings : ConnectionSettings {
  Duration lease{};     // how long a claim holds without a renewal
  Duration heartbeat{}; // how often leases are renewed
  // How long the lease session may be gone before other daemons rescue this one's tasks
  // (pgtq.sweep_gone_workers); at the lease or more, never early.
  Duration session_grace{};
  WorkerIdentity identity;
};

// Worker processes (isolation = process: process_runner.hpp): how each is started and what
// it is told in its Hello.
struct WorkerProcessSettings {
  std::string executable = "/proc/self/exe"; // run as EXECUTABLE --worker-process
  std::string log_level;                     // the log-level option's word
  std::string plugin_config_dir;             // as the plugins got it in pgtqd
  plugin::BackoffPolicy default_backoff;
  std::int64_t memory_limit_bytes = 0; // RLIMIT_DATA of each worker; 0: none
};

// Where handlers run, and how long they may.
struct IsolationSettings {
  bool processes = false;   // isolation = process; else thread
  Duration task_timeout{};  // the daemon's default timeout of an attempt; zero: none
  Duration timeout_grace{}; // process mode: from a timeout until the worker is killed
  WorkerProcessSettings worker;
};

// The claim loop (claim_loop.hpp); it runs the lease keeper, with these leases.
struct ClaimLoopSettings : LeaseKeeperSettings {
  int concurrency = 1;         // worker threads
  std::optional<int> prefetch; // tasks claimed beyond the free workers; none: auto
  Duration poll_interval{};    // claim attempt without a notification
  Duration shutdown_grace{};   // how long running tasks may finish after SIGTERM
  IsolationSettings isolation;
};

// The scheduler thread (scheduler.hpp).
struct SchedulerSettings : ConnectionSettings {
  Duration interval{}; // between ticks
};

} // namespace pgtq::queue
