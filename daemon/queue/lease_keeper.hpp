#pragma once

#include "db/connection.hpp"
#include "queue/in_flight.hpp"
#include "queue/settings.hpp"
#include "queue/worker_registry.hpp"

#include <atomic>
#include <chrono>
#include <optional>
#include <thread>

namespace pgtq::queue {

// Renews the leases of the tasks in flight, every heartbeat, on a connection and a thread of
// its own: neither a slow claim or outcome nor a row lock held by another session can make a
// lease run out, and a renewal that waits cannot hold up claims and outcomes either.
//
// What the database answers per task (pgtq.heartbeat): renewed, busy (row locked by another
// session: skipped this time, renewed at the next heartbeat), lost or cancel (the handler is
// asked to stop). And without the database: a lease that could not be renewed before it ran
// out (database unreachable, row busy for a whole lease) stops its handler at that moment,
// since another daemon may claim the task from then on. That is watched by a second thread
// that never calls libpq, so that a renewal blocked on the network cannot delay it.
//
// renew_soon() asks for a renewal now: a pgtq_cancel notification, which anyone may send, is
// confirmed by the database's answer before a handler is stopped.
//
// Its heartbeats also keep this pgtqd's row in the registry of workers (worker_registry.hpp),
// whether or not tasks run; stop() removes the row. The row names the renewing session, by
// which other daemons rescue this one's tasks soon after that session ends for good
// (pgtq.sweep_gone_workers): so it watches its session between beats, connects again at once
// when it ends, and writes the row before it renews. If the row does not name a new session
// within three quarters of the session grace (it cannot connect, or cannot write the row),
// its tasks are stopped then (InFlightTasks::fence: a worker process is killed at once), and
// claims stop until the row is written. A server restart stops them too: pgtqd cannot tell it
// from a server only it cannot reach.
//
// Threads: start() and stop() from the claim loop's thread; renew_soon() from any thread; the
// rest on its own two.
class LeaseKeeper {
public:
  LeaseKeeper(const LeaseKeeperSettings& config, InFlightTasks& in_flight);
  ~LeaseKeeper();
  LeaseKeeper(const LeaseKeeper&) = delete;
  LeaseKeeper& operator=(const LeaseKeeper&) = delete;

  void start();
  void stop();
  // The task names this pgtqd handles, for its row in the registry (WorkerRegistry); any thread.
  void set_task_names(std::string names) { m_registry.set_task_names(std::move(names)); }
  // Renews at once (no sooner than k_soonest_renewal after the last renewal, so that a flood
  // of requests costs a bounded number of statements), not at the next heartbeat.
  void renew_soon();
  static constexpr std::chrono::milliseconds k_soonest_renewal{25};

private:
  using Clock = std::chrono::steady_clock;

  void run();
  void renew();
  void register_worker(); // the registry's beat; its errors never stop leases
  void stop_expired();
  void watch_expiry(); // the expiry thread
  // watch_session: also ends when the session's socket turns readable (the renewing thread).
  void wait_until(Clock::time_point deadline, bool watch_session);
  // Whether the renewing session is still there, after reading whatever arrived on it.
  bool session_alive();
  // Drops the session; fences the tasks in flight when the registry named it.
  void lose_session();
  // The expiry thread's wait: until deadline, a stop, or a fence set meanwhile.
  void wait_for_expiry(Clock::time_point deadline);

  const LeaseKeeperSettings m_config;
  InFlightTasks& m_in_flight;                 // thread-safe, shared with the claim loop
  std::optional<db::Connection> m_connection; // the renewing thread only
  WorkerRegistry m_registry;                  // the renewing thread, then stop()
  bool m_registry_failing = false;            // the renewing thread only
  // The renewing thread only: the tasks in flight are fenced, as the session the registry
  // names ended and no beat has written the row from a new one yet.
  bool m_fenced = false;
  bool m_starting = true;              // no registry write tried yet: the start's fence is up
  std::atomic<bool> m_stopping{false}; // written by stop(), read by both threads
  // Written by stop(), waited on by both threads; never read, so that it wakes both.
  int m_wake_fd = -1;
  // Written by renew_soon(), read (cleared) by the renewing thread.
  int m_soon_fd = -1;
  // Written by the renewing thread when it fences, read (cleared) by the expiry thread.
  int m_fence_fd = -1;
  std::thread m_thread;        // renews, on m_connection
  std::thread m_expiry_thread; // stops handlers whose lease ran out; no database
};

} // namespace pgtq::queue
