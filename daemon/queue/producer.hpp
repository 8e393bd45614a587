#pragma once

#include "app/config.hpp"
#include "app/daemon_state.hpp"
#include "db/connection.hpp"
#include "plugin/handler_registry.hpp"
#include "queue/task.hpp"
#include "queue/worker_pool.hpp"

#include <atomic>
#include <chrono>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

namespace pgtq::queue {

// The claim loop, on one connection: waits for work (LISTEN/NOTIFY, with polling as the
// backstop), claims as many tasks as there are free workers, hands them to the pool,
// records finished attempts in batches, renews leases, and on shutdown drains, then
// releases what did not finish. Survives the database going away: it reconnects with
// backoff while running tasks go on, and records their outcomes once it is back.
class Producer {
public:
  Producer(const app::Config& config, const plugin::HandlerRegistry& registry,
           app::DaemonState& state);
  ~Producer();
  Producer(const Producer&) = delete;
  Producer& operator=(const Producer&) = delete;

  // Runs until the drain (state.drain) is complete. Returns normally; never throws.
  void run();
  // Interrupts the wait, e.g. after a signal changed the state. Thread-safe.
  void wake();
  // Waits up to `wait` for running handlers to return (after run(), they were asked to
  // stop); false means one ignored should_stop().
  bool wait_workers_idle(std::chrono::milliseconds wait) {
    return m_pool->wait_idle_until(Clock::now() + wait);
  }

private:
  using Clock = std::chrono::steady_clock;

  struct InFlight {
    std::int64_t claim = 0;
    std::shared_ptr<std::atomic<bool>> stop;
  };

  void connect();
  void turn();
  // On the first stop request: no more claims, and the grace period starts.
  void start_draining_if_asked();
  bool wants_claim() const;
  // Claims up to count tasks (pgtq.claim) and returns the rows, not yet dispatched.
  db::Result run_claim(int count);
  void claim(int count);
  // Hands claimed rows (id, claim, task, args, attempt, max_attempts) to the pool.
  void dispatch(const db::Result& rows, int requested);
  // Records the workers' outcomes on the completer connection while claiming their
  // successors on the main one when there may be work; returns whether it claimed.
  bool flush_outcomes();
  // Puts outcomes that could not be recorded back in front of the newer ones.
  void keep_for_later(std::vector<Outcome>& batch);
  // The slow path, outcome by outcome, for a batch the database refused.
  void record(const std::vector<Outcome>& batch);
  // Bookkeeping once outcomes are recorded; lost: those discarded by fencing.
  void settle(const std::vector<Outcome>& batch, const std::vector<std::int64_t>& lost);
  void heartbeat();
  void release_unfinished();
  // Prefetched tasks no worker has started: back to the queue at once on shutdown.
  void release_unstarted();
  // Tasks this loop may hold: one per worker plus the prefetch.
  int slots() const { return m_config.concurrency + m_config.prefetch; }
  void wait_for_work(Clock::time_point until);
  void sleep_interruptibly(Clock::duration duration);
  void note_outcome(Outcome&& outcome); // from worker threads
  Clock::time_point next_poll_time() const;

  const app::Config& m_config;
  app::DaemonState& m_state;
  TaskExecutor m_executor;
  std::string m_task_names; // array literal of the names this daemon handles
  std::string m_worker_name;
  std::optional<db::Connection> m_connection; // LISTEN, claims, heartbeats, releases
  std::optional<db::Connection> m_completer;  // records outcomes beside the claims
  std::map<std::int64_t, InFlight> m_in_flight;
  std::mutex m_outcomes_mutex;
  std::vector<Outcome> m_outcomes;
  int m_wake_fd = -1;
  bool m_maybe_more = true; // a claim may find work: set by NOTIFY, polling, a full claim
  bool m_draining = false;
  bool m_unstarted_released = false; // prefetched tasks given back once draining
  Clock::time_point m_drain_deadline;
  Clock::time_point m_next_poll;
  Clock::time_point m_next_heartbeat;
  Clock::duration m_reconnect_delay;
  std::unique_ptr<WorkerPool> m_pool; // last: its threads use everything above
};

} // namespace pgtq::queue
