#pragma once

#include "queue/queue_metrics.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>

namespace pgtq::queue {

// What the threads of pgtqd tell each other and the status line: written by the claim loop
// and the signal handling, read by the main loop. Plain atomics, no locks.
struct DaemonState {
  std::atomic<bool> ready{false}; // connected, schema checked, LISTEN active
  std::atomic<bool> db_connected{false};
  std::atomic<bool> drain{false};      // first SIGTERM/SIGINT: stop claiming, let tasks finish
  std::atomic<bool> cancel_now{false}; // second signal: release unfinished tasks now
  std::atomic<bool> finished{false};   // the claim loop has released or finished everything
  std::atomic<int> busy{0};
  std::atomic<std::int64_t> succeeded{0};
  std::atomic<std::int64_t> failed{0};    // attempts that failed (retried or not)
  std::atomic<std::int64_t> discarded{0}; // outcomes refused because the lease was lost
  // isolation = process: worker processes that died running a task (crashed or were
  // killed by something else), that were killed after a timeout, and that were started
  // again (after either, a memory limit hit, or a death while idle). Written by the pool's
  // threads, read by the status line.
  std::atomic<std::int64_t> worker_crashes{0};
  std::atomic<std::int64_t> worker_timeouts{0};
  std::atomic<std::int64_t> worker_restarts{0};
  // What /metrics shows of this loop beyond the counters above.
  QueueMetrics metrics;
  // steady_clock time of the claim loop's last turn, for the watchdog.
  std::atomic<std::chrono::steady_clock::rep> last_turn{0};

  void mark_turn() {
    last_turn.store(std::chrono::steady_clock::now().time_since_epoch().count(),
                    std::memory_order_relaxed);
  }
};

} // namespace pgtq::queue
