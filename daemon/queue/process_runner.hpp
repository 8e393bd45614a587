#pragma once

#include "plugin/handler_registry.hpp"
#include "queue/daemon_state.hpp"
#include "queue/settings.hpp"
#include "queue/task_runner.hpp"
#include "queue/worker_process.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace pgtq::queue {

// isolation = process: each pool slot has a worker process of its own (WorkerProcess) that
// runs its attempts one at a time, supervised from the slot's pool thread:
//  - while the worker runs an attempt, the next tasks of the pool's queue may wait in its
//    socket (run_jobs), which it starts one after the other without a wake-up; one that has
//    not started is taken back through its start gate (StopPage) when the worker dies or is
//    killed (to the pool's queue, its attempt not counted), when it is stopped (released),
//    at a drain (released), or once the attempt ahead of it has run 10 ms (to the pool's
//    queue, for another worker);
//  - should_stop (a cancellation, a lost lease, shutdown) is passed on through the worker's
//    stop page (WorkerProcess::set_stop; each Run's lane is cleared before it); a handler
//    that has not returned timeout_grace later is killed with its worker: a cancelled attempt
//    is recorded as such, any other is given back (a lost lease matches nothing any more; at
//    shutdown the task is released once its worker is gone);
//  - at the attempt's timeout (the plugin's for its task name, else task-timeout) the worker
//    turns should_stop() true by itself, and is killed timeout_grace later if it has not
//    answered: the attempt is a failed one, "timed out after N s", retried by the usual
//    backoff;
//  - a worker that dies running an attempt costs that attempt ("killed by SIGSEGV"), at
//    once: the pool thread sees the process end (WorkerProcess);
//  - a dead worker is replaced before the slot takes its next task: at once the first time,
//    then after 0.1 s, 0.2 s, ... up to 10 s while it keeps dying without finishing a task;
//  - a slot whose worker cannot be started (it fails before it is ready) counts as
//    unavailable until one starts: it gives the tasks it is handed back at once instead of
//    holding them, and the claim loop claims nothing while no slot is available.
// Database connections, leases and outcomes stay in pgtqd.
//
// Threads: prepare() and run() for a slot from that slot's pool thread only; abandon(),
// use_plugins() and unavailable_slots() from any thread.
class ProcessRunner final : public TaskRunner {
public:
  // plugins: what the workers load until use_plugins() says otherwise. on_available: called
  // (on a pool thread) when a slot that could not start a worker has one again.
  ProcessRunner(int slots,
                std::string queue,
                std::shared_ptr<const plugin::PluginSet> plugins,
                const IsolationSettings& settings,
                DaemonState& state,
                std::function<void()> on_available);
  ~ProcessRunner() override;
  ProcessRunner(const ProcessRunner&) = delete;
  ProcessRunner& operator=(const ProcessRunner&) = delete;

  void prepare(int slot, const std::function<bool()>& job_waiting) override;
  std::optional<Outcome> run(int slot, const ClaimedTask& task, const Attempt& attempt) override;
  // Runs `job`, and hands the worker the next jobs of the pool's queue while it runs, up to
  // k_pipeline_depth of them: the worker starts each as soon as it has answered the last,
  // without waiting for this thread (see StopPage for how one is taken back unstarted).
  void run_jobs(int slot, Job job, JobFeed& feed) override;
  // Idle workers are replaced by workers of these plugins before their next task (one
  // waiting out a restart delay starts on them); a worker running a task of older plugins
  // finishes it first.
  void use_plugins(std::shared_ptr<const plugin::PluginSet> plugins) override;
  void abandon() override;
  int unavailable_slots() const override { return m_unavailable.load(); }
  bool ends_stopped_handlers() const override { return true; }
  bool batches_jobs() const override { return m_short_attempts.load(std::memory_order_relaxed); }

  // How long a worker has to load its plugins and say it is ready.
  static constexpr std::chrono::seconds k_start_timeout{60};
  // Runs sent to a worker beyond the one it runs, at most.
  static constexpr std::size_t k_pipeline_depth = 8;

private:
  using PluginsPtr = std::shared_ptr<const plugin::PluginSet>;

  struct Slot {
    std::unique_ptr<WorkerProcess> process;
    PluginsPtr plugins; // what process loaded
    // The pid of process while it is not reaped, for abandon() on another thread; 0: none.
    // Set, and cleared before the reap, under the lock, so that abandon() never signals a
    // pid that was reaped (and may belong to another process by now).
    std::mutex pid_mutex;
    pid_t pid = 0;
    int failures = 0; // deaths since the last attempt that finished
    bool started_before = false;
    bool unavailable = false;   // its last start failed (counted in m_unavailable)
    std::string start_error;    // why, for the log
    std::uint32_t next_seq = 0; // the number of the next Run sent to the worker
    double mean_attempt_s = 1;  // moving mean of its attempts' durations (none yet: long)
  };
  // A job whose Run was sent to the slot's worker as number `seq`.
  struct Handed {
    Job job;
    std::uint32_t seq;
  };

  enum class Start { started, gave_up, failed };
  // Starts the slot's worker unless it has one of the wanted plugins (one of other plugins
  // is retired first), after the restart backoff; wanted() is asked again after the wait (a
  // reload meanwhile). Tries again after a failed start while `retry`. gave_up: give_up() or
  // skip_wait() (during the backoff only) turned true, or abandon() was called.
  Start ensure_started(int slot,
                       const std::function<PluginsPtr()>& wanted,
                       const std::function<bool()>& give_up,
                       const std::function<bool()>& skip_wait,
                       bool retry);
  // A worker found dead between attempts is reaped, without blaming a task.
  void retire_if_ended(int slot);
  // Reaps the slot's worker and forgets it; returns how it ended.
  std::string retire(int slot);
  void set_unavailable(Slot& state, bool unavailable);
  // The delay before starting a slot's worker that died `failures` times in a row.
  static std::chrono::milliseconds restart_delay(int failures);
  Outcome failed_attempt(const ClaimedTask& task, std::string error) const;
  // The Run frame for a job, its lane opened in the worker's stop page.
  std::string run_frame(Slot& state, const Handed& handed) const;
  // Sends the worker more jobs of the feed, up to k_pipeline_depth queued, small ones only and
  // only while what it has not read stays within its hand-ahead budget (the write must not
  // block: the worker reads nothing while it runs a handler); clears `pipelining` when one
  // cannot run in this worker (claimed under other plugins).
  void hand_over_more(Slot& state, std::deque<Handed>& queued, JobFeed& feed, bool& pipelining);
  // Takes back the queued Runs `which` selects that the worker has not started: to the pool
  // (put_back), or, stopped or draining, given back to be released. worker_ending: the
  // number of a worker that ends now (each task taken back is logged), or 0.
  void take_back(Slot& state,
                 std::deque<Handed>& queued,
                 JobFeed& feed,
                 const std::function<bool(const Handed&)>& which,
                 int worker_ending = 0);
  // Kills the slot's worker and reaps it, so that its start gates are final, reads what it
  // wrote before it died, then settles the Runs queued behind `current`: those it answered are
  // ended with their answer, those it did not start are taken back (take_back), and one it
  // started and did not answer was running when it was killed (`why`, for the log and its
  // error) and is counted (released at shutdown). Retires the worker. Returns current's
  // answer if it wrote one before it died.
  std::optional<worker::Finished> kill_and_settle(int slot,
                                                  const Handed& current,
                                                  std::deque<Handed>& queued,
                                                  JobFeed& feed,
                                                  const std::string& why);
  // Before the slot's worker is retired: every queued Run taken back.
  void take_back_before_retire(int slot, std::deque<Handed>& queued, JobFeed& feed);
  // "worker-memory-limit (256 MiB)"
  std::string memory_limit_text() const;

  const std::string m_queue;
  const IsolationSettings m_settings;
  DaemonState& m_state;
  const std::function<void()> m_on_available;
  std::vector<std::unique_ptr<Slot>> m_slots;
  std::atomic<bool> m_closing{false};        // set by abandon()
  std::atomic<int> m_unavailable{0};         // slots whose last start failed
  std::atomic<bool> m_short_attempts{false}; // the last attempt's slot takes jobs greedily
  std::mutex m_mutex;                        // guards m_plugins; for m_closed
  PluginsPtr m_plugins;                      // the newest, for prepare()
  std::condition_variable m_closed;          // wakes restart waits
};

} // namespace pgtq::queue
