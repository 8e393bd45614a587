#pragma once

#include "db/connection.hpp"
#include "db/pg_error.hpp"
#include "plugin/handler_registry.hpp"
#include "queue/backoff.hpp"
#include "queue/daemon_state.hpp"
#include "queue/in_flight.hpp"
#include "queue/lease_keeper.hpp"
#include "queue/settings.hpp"
#include "queue/task.hpp"
#include "queue/worker_pool.hpp"

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace pgtq::queue {

// The claim loop, on one connection: waits for work (LISTEN/NOTIFY, with polling as the
// backstop), claims as many tasks as there are free workers, hands them to the pool, records
// finished attempts in batches (on a second connection), hears cancellations (pgtq_cancel),
// and on shutdown drains, then releases what did not finish. Leases are renewed by the
// LeaseKeeper, on a third connection. Survives the database going away: it reconnects with
// backoff while running tasks go on, and records their outcomes once it is back.
class Producer {
public:
  Producer(const ProducerSettings& config, const plugin::HandlerRegistry& registry,
           DaemonState& state);
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

  // A wake-up notification claims at most this long after a wake-up whose claim found
  // nothing: anyone may NOTIFY pgtq_wakeup, and a flood of them must not become a claim per
  // notification. Other claims set no gap, so real pushes are picked up at once.
  static constexpr Clock::duration k_min_wakeup_gap = std::chrono::milliseconds(25);
  // How long outcomes refused for a moment (a row lock, a serialization failure) wait before
  // they are recorded again.
  static constexpr Clock::duration k_outcome_retry = std::chrono::milliseconds(500);
  // After the grace period, how long finished attempts' outcomes may still take to be
  // recorded before pgtqd gives up on them (their tasks then run again).
  static constexpr Clock::duration k_outcome_drain_extra = std::chrono::seconds(5);

  void connect();
  void turn();
  // What to do about an error of one turn: retry at once, wait, or reconnect.
  void handle_error(const db::PgError& error);
  void disconnect_and_wait();
  // On the first stop request: no more claims, and the grace period starts.
  void start_draining_if_asked();
  bool wants_claim() const;
  // Claims up to count tasks (pgtq.claim) and returns the rows, not yet dispatched.
  db::Result run_claim(int count);
  void claim(int count);
  // Hands claimed rows (id, claim, task, args, attempt, max_attempts) to the pool;
  // claimed_at: when the claim was sent (the leases run from then on).
  void dispatch(const db::Result& rows, int requested, Clock::time_point claimed_at);

  // producer_outcomes.cpp
  // Records the workers' outcomes on the completer connection while claiming their
  // successors on the main one when there may be work; returns whether it claimed.
  bool flush_outcomes();
  // Puts outcomes that could not be recorded back in front of the newer ones; with a
  // retry_after, they wait that long (a row lock, a serialization failure) before the next try.
  void keep_for_later(std::vector<Outcome>& batch,
                      std::optional<Clock::duration> retry_after = std::nullopt);
  // The slow path, outcome by outcome, for a batch the database refused. On a connection
  // error it keeps the outcomes it did not record for later, and rethrows.
  void record(const std::vector<Outcome>& batch);
  // Bookkeeping once outcomes are recorded; lost: those discarded by fencing.
  void settle(const std::vector<Outcome>& batch, const std::vector<std::int64_t>& lost);
  void log_recorded(const Outcome& outcome, bool cancelled) const;

  // producer_notifications.cpp
  // Handles the notifications received: wake-ups for this queue, cancellations. read_socket
  // false: only those libpq read along with earlier results (no system call).
  void take_notifications(bool read_socket = true);
  void cancel_requested(std::int64_t id);
  // Releases the tasks that were cancelled or lost before a worker started them.
  void release_not_started();

  // At the end of the grace period: records what finished, releases what did not.
  void release_unfinished();
  // Prefetched tasks no worker has started, taken out of the pool when draining starts;
  // release_not_started() gives them back to the queue.
  void take_back_unstarted();
  // Tasks this loop may hold: one per worker plus the prefetch.
  int slots() const { return m_config.concurrency + m_config.prefetch; }
  // Sleeps until there is something to do, at the latest until `until`; the deadline of a
  // held-back wake-up (k_min_wakeup_gap) is its own, set once the notifications are taken.
  void wait_for_work(Clock::time_point until);
  void sleep_interruptibly(Clock::duration duration);
  void note_outcome(Outcome&& outcome); // from worker threads
  void note_not_started(ClaimedTask&& task); // from worker threads
  Clock::time_point next_poll_time() const;

  const ProducerSettings m_config;
  DaemonState& m_state;
  TaskExecutor m_executor;
  std::string m_task_names; // array literal of the names this daemon handles
  std::string m_worker_name;
  std::string m_lease_text; // the lease as an interval literal
  std::optional<db::Connection> m_connection; // LISTEN, claims, releases
  std::optional<db::Connection> m_completer;  // records outcomes beside the claims
  InFlightTasks m_in_flight;
  std::mutex m_outcomes_mutex;
  std::vector<Outcome> m_outcomes;           // guarded by m_outcomes_mutex
  std::vector<ClaimedTask> m_not_started;    // guarded by m_outcomes_mutex
  Clock::time_point m_outcomes_not_before;   // kept outcomes wait for this
  int m_wake_fd = -1;
  bool m_maybe_more = true; // a claim may find work: set by NOTIFY, polling, a full claim
  bool m_notified = false;  // a wake-up arrived; it may claim once k_min_wakeup_gap passed
  Clock::time_point m_last_empty_claim; // see k_min_wakeup_gap
  bool m_draining = false;
  bool m_unfinished_released = false; // the grace period ran out
  Clock::time_point m_drain_deadline;
  Clock::time_point m_next_poll;
  RetryBackoff m_reconnect_backoff;
  // The same error, turn after turn, means this session cannot work: reconnect.
  std::string m_last_error;
  int m_error_streak = 0;
  LeaseKeeper m_lease_keeper;
  std::unique_ptr<WorkerPool> m_pool; // last: its threads use everything above
};

} // namespace pgtq::queue
