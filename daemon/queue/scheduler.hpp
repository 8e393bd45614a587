#pragma once

#include "db/connection.hpp"
#include "queue/retention_pass.hpp"
#include "queue/settings.hpp"
#include "queue/wake_up.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace pgtq::queue {

// The scheduler thread: on its own connection, runs pgtq.tick() every scheduler-interval
// (and right when the next delayed task is due, or soon after a delayed task due sooner is
// pushed): due scheduled tasks become queued, tasks whose lease expired are rescued. Any
// number of daemons may run one; pgtq.tick() lets one of them work at a time. Between ticks
// it is registered in pgtq.waiting_schedulers with the time it wakes, so that only delayed
// pushes due before then notify it. After a tick it applies the retention rules when they
// are due (RetentionPass). Before each tick it sweeps the registry of workers, so that the
// tasks of a pgtqd whose session ended for good are rescued without waiting out their leases.
//
// Threads: start() and stop() from the daemon's main thread; the rest on the scheduler's.
class Scheduler {
public:
  // What the ticks of this scheduler did, for /metrics: written by its thread, read by any.
  struct Counters {
    std::atomic<std::uint64_t> ticks{0};          // ticks that ran (another daemon's hold none)
    std::atomic<std::uint64_t> errors{0};         // ticks that failed
    std::atomic<std::uint64_t> promoted{0};       // scheduled tasks made queued
    std::atomic<std::uint64_t> rescued{0};        // expired leases: queued again
    std::atomic<std::uint64_t> expired_failed{0}; // expired leases with no attempt left: failed
  };

  explicit Scheduler(const SchedulerSettings& config);
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  void start();
  void stop();
  const Counters& counters() const { return m_counters; }

private:
  using Clock = std::chrono::steady_clock;

  void run();
  // Returns when the next tick is due.
  Clock::time_point tick();
  // Ends the leases of workers whose session ended for good (pgtq.sweep_gone_workers), so
  // that the tick right after rescues their tasks. Its errors, but a lost connection, are
  // logged once and never stop ticks.
  void sweep_gone_workers();
  // Registers the scheduler as asleep until deadline, so that delayed pushes of tasks due
  // earlier notify it (sql/schema/09_wake_ups.sql), waits until the delayed pushes that may
  // have looked before the registration have ended, and returns the deadline, brought
  // forward if a task they pushed is due sooner (now: a notification came meanwhile).
  Clock::time_point register_sleep(Clock::time_point deadline);
  // deadline, or sooner if a scheduled task is due sooner (pgtq.next_due()).
  Clock::time_point next_due(Clock::time_point deadline);
  void wait_until(Clock::time_point deadline);

  const SchedulerSettings m_config;
  // pgtq_scheduled notifications (a delayed task was pushed) bring a tick forward; the
  // poll timer is the regular tick. Interrupted by stop().
  WakeUp m_wake_up;
  bool m_due_out_of_range = false; // the scheduler's thread: warned once
  RetentionPass m_retention;       // the scheduler's thread
  // Delayed pushes still in flight when the last register_sleep() stopped waiting for them
  // (pg_locks virtualtransaction ids): a transaction that pushed and stays open is not
  // waited for again at every tick.
  std::vector<std::string> m_long_pushes;
  bool m_registration_failed = false;         // warned that register_sleep() could not register
  bool m_sweep_failed = false;                // warned that sweep_gone_workers() failed
  Clock::time_point m_last_tick;              // when the last tick started
  std::optional<db::Connection> m_connection; // the scheduler's thread
  Counters m_counters;
  std::atomic<bool> m_stopping{false}; // written by stop(), read by the thread
  std::thread m_thread;
};

} // namespace pgtq::queue
