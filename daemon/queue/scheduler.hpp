#pragma once

#include "db/connection.hpp"
#include "queue/settings.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>

namespace pgtq::queue {

// The scheduler thread: on its own connection, runs pgtq.tick() every scheduler-interval
// (and right when the next delayed task is due, or soon after a delayed task is pushed): due
// scheduled tasks become queued, tasks whose lease expired are rescued. Any number of
// daemons may run one; pgtq.tick() lets one of them work at a time.
class Scheduler {
public:
  explicit Scheduler(const SchedulerSettings& config);
  ~Scheduler();
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  void start();
  void stop();

private:
  using Clock = std::chrono::steady_clock;

  void run();
  // Returns when the next tick is due.
  Clock::time_point tick();
  void wait_until(Clock::time_point deadline);

  const SchedulerSettings m_config;
  const Clock::duration m_min_notified_gap;
  Clock::time_point m_last_tick;
  bool m_due_out_of_range = false; // warned once
  std::optional<db::Connection> m_connection;
  std::atomic<bool> m_stopping{false};
  int m_wake_fd = -1;
  std::thread m_thread;
};

} // namespace pgtq::queue
