#pragma once

#include "db/connection.hpp"
#include "db/pg_error.hpp"
#include "plugin/plugin_set.hpp"
#include "queue/backoff.hpp"
#include "queue/daemon_state.hpp"
#include "queue/drain.hpp"
#include "queue/error_streak.hpp"
#include "queue/idle_registration.hpp"
#include "queue/in_flight.hpp"
#include "queue/lease_keeper.hpp"
#include "queue/outcome_recorder.hpp"
#include "queue/prefetch_policy.hpp"
#include "queue/settings.hpp"
#include "queue/shared_workers.hpp"
#include "queue/task.hpp"
#include "queue/task_releaser.hpp"
#include "queue/task_runner.hpp"
#include "queue/wake_up.hpp"
#include "queue/worker_pool.hpp"

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

namespace pgtq::queue {

// The claim loop, on its own thread and connection: waits for work (WakeUp), claims as many
// tasks as there are free slots (pgtq.claim) and hands them to the WorkerPool, has the
// OutcomeRecorder record finished attempts while it claims their successors, hears
// cancellations, and on shutdown drains, then has the TaskReleaser give back what did not
// finish. The LeaseKeeper renews the leases of the tasks in flight meanwhile. Survives the
// database going away: it reconnects with backoff while running tasks go on, and the
// recorder records their outcomes once it is back.
//
// Threads: run() on the claim loop's thread; wake() and wait_workers_idle() from any.
class ClaimLoop {
public:
  // seat: the loop's place among queues that share their workers (shared-workers); its
  // workers null for a loop with workers of its own.
  ClaimLoop(const ClaimLoopSettings& config,
            std::shared_ptr<const plugin::PluginSet> plugins,
            DaemonState& state,
            SharedSeat seat = {});
  ~ClaimLoop();
  ClaimLoop(const ClaimLoop&) = delete;
  ClaimLoop& operator=(const ClaimLoop&) = delete;

  // Runs until the drain (state.drain) is complete. Returns normally; never throws.
  void run();
  // Interrupts the wait, e.g. after a signal changed the state.
  void wake() { m_wake_up.interrupt(); }
  // From any thread (a reload): claims from the loop's next turn on are for these plugins'
  // task names and run on them; tasks claimed before keep the plugins they were claimed
  // under.
  void use_plugins(std::shared_ptr<const plugin::PluginSet> plugins);
  // Waits up to `wait` for running handlers to return (after run(), they were asked to
  // stop); then ends those that can be ended (worker processes are killed) and waits up to
  // `wait` again. False means a handler thread ignored should_stop() (isolation = thread).
  bool wait_workers_idle(std::chrono::milliseconds wait);

private:
  using Clock = std::chrono::steady_clock;

  // A wake-up notification claims at most this long after a wake-up whose claim found
  // nothing: anyone may NOTIFY pgtq_wakeup, and a flood of them must not become a claim per
  // notification. Other claims set no gap, so real pushes are picked up at once.
  static constexpr Clock::duration k_min_wakeup_gap = std::chrono::milliseconds(25);
  // While the lease keeper's fence has passed, how often the loop looks whether it moved on.
  static constexpr Clock::duration k_fence_check = std::chrono::milliseconds(100);
  // What handlers report (progress, checkpoints) is written at most this often, in one
  // statement for every task in flight (pgtq.report), whatever the rate of reports.
  static constexpr Clock::duration k_report_interval = std::chrono::seconds(1);

  // What record_outcomes() did: whether it claimed, and the error that ends the turn.
  struct Flushed {
    bool claimed = false;
    std::optional<db::PgError> error;
  };

  void connect();
  void turn();
  // Takes up the plugins use_plugins() handed over, if any.
  void take_reloaded_plugins();
  // An error ended the turn: retry on the same sessions after a moment, or reconnect.
  void handle_error(const db::PgError& error);
  void disconnect_and_wait();
  // On the first stop request: no more claims, and the grace period starts.
  void start_draining_if_asked();
  // Whether more tasks may wait (the last claim was full, or a wake-up came), outside a drain.
  bool has_work() const { return !m_drain.active() && m_maybe_more; }
  // Not once the lease keeper's fence has passed (its session ended and the registry does not
  // name a new one yet): what it claimed would be stopped at once.
  bool wants_claim() const { return has_work() && !m_in_flight.fence_passed(Clock::now()); }
  // Tasks this loop may hold: one per worker plus the prefetch.
  int slots() const { return m_config.concurrency + m_prefetch.prefetch(); }
  // How many more tasks to claim now, `finishing` of those in flight counted as done: none
  // while no worker can be started, and one fewer per slot that cannot start one.
  int free_claim_slots(int finishing = 0) const;
  // free_claim_slots(finishing), less what the queues this loop shares its workers with are
  // owed (shared_workers.hpp).
  int claim_room(int finishing = 0) const;
  // As claim_room(), and holds them for this loop's claim until publish_share().
  int reserve_claim(int finishing = 0);
  // Tells the queues this loop shares its workers with what it holds and whether it wants
  // more (never when may_want is false: a loop about to wait out an error); at the end of
  // every turn.
  void publish_share(bool may_want = true);
  // Logs when the runner loses or regains every slot; regaining one means a claim may find
  // work again.
  void note_capacity();
  // Claims up to count tasks (pgtq.claim) and returns the rows, not yet dispatched.
  db::Result run_claim(int count);
  // Hands claimed rows (id, claim, task, args, attempt, max_attempts) to the pool;
  // claimed_at: when the claim was sent (the leases run from then on).
  void dispatch(const db::Result& rows, int requested, Clock::time_point claimed_at);
  // Has the recorder record the workers' outcomes while claiming their successors when
  // there may be work. Claimed tasks are dispatched whatever becomes of the outcomes.
  Flushed record_outcomes();
  // Writes what the handlers of the tasks in flight reported since the last write, once
  // k_report_interval has passed since it, or at once with now_or_never (tasks are about to be
  // released). Throws an error that ends the session (what was taken is kept for the next
  // write); a value the database refuses is logged and dropped.
  void write_reports(Clock::time_point now, bool now_or_never = false);
  // Gives back to the queue the held tasks that prefetch = auto no longer keeps
  // (PrefetchPolicy::keep_waiting: the queue's attempts turned slow).
  void give_back_held();
  // At the end of the grace period: records what finished, releases what did not.
  void release_unfinished();
  // Sleeps until there is something to do, at the latest until `until`.
  void wait_for_work(Clock::time_point until);
  // Sleeps, cut short by a stop request.
  void sleep_interruptibly(Clock::duration duration);

  // Set at construction, read by every thread.
  const ClaimLoopSettings m_config;
  const SharedSeat m_seat;
  const std::string m_lease_text;       // the lease as an interval literal
  DaemonState& m_state;                 // atomics
  std::unique_ptr<TaskRunner> m_runner; // used by the worker threads
  InFlightTasks m_in_flight;            // thread-safe: this loop, the workers, the lease keeper
  WakeUp m_wake_up;                     // interrupted by any thread, waited on by this loop
  OutcomeRecorder m_recorder;           // added to by the workers, recorded by this loop
  TaskReleaser m_releaser;              // added to by the workers and this loop

  // A reload's plugins, handed over by use_plugins() to this loop's next turn.
  std::mutex m_reload_mutex;
  std::shared_ptr<const plugin::PluginSet> m_reloaded; // guarded by m_reload_mutex

  // This loop's thread only.
  std::shared_ptr<const plugin::PluginSet> m_plugins; // what new claims run on
  std::string m_task_names; // array literal of m_plugins' task names, for pgtq.claim
  std::optional<db::Connection> m_connection; // LISTEN, claims, releases
  bool m_maybe_more = true;   // a claim may find work: set by NOTIFY, polling, a full claim
  bool m_no_capacity = false; // no worker process could be started (note_capacity())
  Drain m_drain;
  PrefetchPolicy m_prefetch;
  // After a give-back: when to look at the held tasks again (give_back_held).
  std::optional<Clock::time_point> m_look_at_held;
  // Reports wait to be written (write_reports), not before m_next_report.
  bool m_reports_waiting = false;
  Clock::time_point m_next_report;
  static constexpr Clock::duration k_held_recheck = std::chrono::milliseconds(50);
  IdleRegistration m_idle; // whether pushes NOTIFY this loop
  RetryBackoff m_reconnect_backoff;
  ErrorStreak m_errors;

  LeaseKeeper m_lease_keeper;         // its own threads and connection
  std::unique_ptr<WorkerPool> m_pool; // last: its threads use everything above
};

} // namespace pgtq::queue
