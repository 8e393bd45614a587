#pragma once

#include <chrono>
#include <string>

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

// The lease keeper (lease_keeper.hpp).
struct LeaseKeeperSettings : ConnectionSettings {
  Duration lease{};     // how long a claim holds without a renewal
  Duration heartbeat{}; // how often leases are renewed
};

// The claim loop (claim_loop.hpp); it runs the lease keeper, with these leases.
struct ClaimLoopSettings : LeaseKeeperSettings {
  int concurrency = 1;       // worker threads
  int prefetch = 0;          // tasks claimed beyond the free workers
  Duration poll_interval{};  // claim attempt without a notification
  Duration shutdown_grace{}; // how long running tasks may finish after SIGTERM
};

// The scheduler thread (scheduler.hpp).
struct SchedulerSettings : ConnectionSettings {
  Duration interval{}; // between ticks
};

} // namespace pgtq::queue
