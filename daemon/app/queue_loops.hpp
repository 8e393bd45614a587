#pragma once

#include "app/config.hpp"
#include "app/queue_list.hpp"
#include "metrics/metrics_page.hpp"
#include "plugin/plugin_set.hpp"
#include "queue/claim_loop.hpp"
#include "queue/daemon_state.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace pgtq::app {

// The claim loops of the queues one pgtqd serves (the queue option): one per queue, each
// on its own thread with its own workers, sessions and DaemonState, so that the queues do
// not wait on each other. With shared-workers, the loops of the queues without workers of
// their own hold at most concurrency tasks together (queue::SharedWorkers), split by their
// weights. What the main loop asks of "the daemon" is asked of all of them.
//
// Threads: constructed, started, stopped and destroyed on the main thread; the loops run on
// their own threads meanwhile.
class QueueLoops {
public:
  QueueLoops(const Config& config, std::shared_ptr<const plugin::PluginSet> plugins);
  ~QueueLoops(); // joins threads still running (after stop_at_once(), as a last resort)
  QueueLoops(const QueueLoops&) = delete;
  QueueLoops& operator=(const QueueLoops&) = delete;

  // Starts each claim loop on a thread of its own.
  void start();
  // Every loop has connected and listens (DaemonState::ready).
  bool ready() const;
  // Some loop has connected: there may be tasks to drain.
  bool any_ready() const;
  // Every loop has finished its drain (DaemonState::finished).
  bool finished() const;
  // First stop request: every loop stops claiming and lets its tasks finish. Returns false
  // when a drain had already started.
  bool drain();
  // Second stop request: every loop releases its unfinished tasks now.
  void stop_at_once();
  // A reload: new claims of every loop run on plugins.
  void use_plugins(const std::shared_ptr<const plugin::PluginSet>& plugins);
  // The earliest last turn of the loops still running (zero for one that has not turned
  // yet; now when every loop has finished), for the watchdog: only loops that turn are
  // healthy.
  std::chrono::steady_clock::time_point oldest_turn() const;
  // "queue a: 2/8 workers busy, queue b: 0/4 workers busy; 10 done, 1 failed, ...".
  std::string status_line() const;
  // Joins the loops' threads (each returns when its drain is done).
  void join();
  // As ClaimLoop::wait_workers_idle, for every loop at once (so at most twice `wait` in
  // all); false if any handler thread ignored should_stop().
  bool wait_workers_idle(std::chrono::milliseconds wait);
  // Summed over the loops: attempts that succeeded, and that failed.
  std::int64_t succeeded() const;
  std::int64_t failed() const;
  // Each loop for /metrics (any thread: the states are atomics and locked maps).
  std::vector<metrics::LoopView> metric_views() const;

private:
  struct Loop {
    QueueEntry queue;
    int concurrency = 0;
    queue::DaemonState state;
    std::unique_ptr<queue::ClaimLoop> claim_loop;
    std::thread thread;
  };

  // One counter of DaemonState, summed over the loops.
  std::int64_t sum(std::atomic<std::int64_t> queue::DaemonState::*counter) const;

  // The workers the shared queues share (shared-workers); null when none does.
  std::shared_ptr<queue::SharedWorkers> m_shared;
  std::vector<std::unique_ptr<Loop>> m_loops; // in the queue option's order
};

} // namespace pgtq::app
