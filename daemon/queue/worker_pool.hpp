#pragma once

#include "queue/task.hpp"
#include "queue/task_runner.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace pgtq::queue {

// N threads running tasks handed over by the claim loop, each through the runner with its
// own slot number (0..N-1): in pgtqd itself or in that slot's worker process. Each finished
// attempt is passed to on_outcome (from the worker thread).
class WorkerPool {
public:
  using OutcomeSink = std::function<void(Outcome&&)>;
  using TaskSink = std::function<void(ClaimedTask&&)>;

  // running counts the handlers running right now (for the status line). A task whose stop
  // flag is already up when a worker takes it (cancelled or its lease lost while it waited as
  // a prefetched task) is not run: it goes to on_not_started, to be released. hand_ahead:
  // whether a thread's runner may take more jobs while it runs one (JobFeed::take_next);
  // false when the claim loop holds no more tasks than there are threads (prefetch 0): a
  // job taken ahead would only wait behind another for a thread that is about to be free.
  WorkerPool(int threads,
             TaskRunner& runner,
             OutcomeSink on_outcome,
             TaskSink on_not_started,
             std::atomic<int>& running,
             bool hand_ahead = true,
             std::string log_queue = "");
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // attempt is shared with the claim loop, which raises its stop flag on shutdown,
  // cancellation or a lost lease; the handler sees it through task_should_stop().
  void submit(ClaimedTask task, std::shared_ptr<const Attempt> attempt);

  // Takes back the tasks submitted but not started yet (prefetched ones, at shutdown), and
  // from then on hands out no more: a task a worker process was handed and has not started
  // is taken back by its pool thread too (within its stop poll) and given back.
  std::vector<ClaimedTask> take_unstarted();
  // The same for one task, if it has not started yet.
  std::optional<ClaimedTask> take_unstarted(std::int64_t id);
  // Takes back the newest tasks waiting for a thread beyond the first `keep` (prefetched
  // tasks the claim loop no longer wants to hold); the pool goes on handing out the rest.
  std::vector<ClaimedTask> take_waiting_beyond(std::size_t keep);
  // Tasks waiting for a thread now (submitted, not taken by a thread yet).
  std::size_t waiting_tasks() const;

  // Has every idle thread call TaskRunner::prepare() again (after a reload, so that idle
  // worker processes are replaced at once rather than at their next task). Any thread.
  void prepare_again();

  // Waits until no task runs or the deadline passes; returns whether the pool is idle.
  bool wait_idle_until(std::chrono::steady_clock::time_point deadline);

  // Stops the threads. Handlers still running are abandoned (TaskRunner::abandon(): worker
  // processes are killed); threads still stuck in a handler after that are detached and
  // left to the end of the process: a thread that ignores should_stop() cannot be
  // interrupted safely.
  void shutdown();

private:
  // A pool thread's JobFeed: more jobs of the shared queue for its runner.
  class Feed final : public JobFeed {
  public:
    explicit Feed(WorkerPool& pool) : m_pool(pool) {}
    std::optional<Job> take_next(bool greedy,
                                 const std::function<bool(const Job&)>& accept) override;
    void put_back(Job job) override;
    void done(Job job, std::optional<Outcome> outcome) override;
    bool draining() const override { return m_pool.m_draining.load(); }
    // Wakes an idle thread if a job submit() woke none for still waits.
    void pass_on() override;

  private:
    WorkerPool& m_pool;
  };

  void work(int slot);

  // Set at construction, used by the worker threads.
  const bool m_hand_ahead;
  TaskRunner& m_runner;
  OutcomeSink m_on_outcome;
  TaskSink m_on_not_started;
  mutable std::mutex m_mutex;
  std::condition_variable m_wakeup; // the claim loop's thread wakes the workers
  std::condition_variable m_idle;   // the workers wake wait_idle_until()
  // Guarded by m_mutex: jobs pushed by the claim loop's thread (submit), taken by the
  // workers and by take_unstarted() on the claim loop's thread.
  std::deque<Job> m_jobs;
  bool m_closing = false;              // guarded: set by shutdown(), read by the workers
  std::atomic<bool> m_draining{false}; // set by take_unstarted() under m_mutex, read by any
  int m_waiting = 0;                   // guarded: threads waiting for a job
  // Guarded: jobs submit() pushed without waking a thread (the runner batches), at most
  // m_jobs.size(); pass_on() wakes a thread for them one by one.
  std::size_t m_unnotified = 0;
  std::uint64_t m_prepare_round = 0;  // guarded: counted up by prepare_again()
  std::atomic<int> m_busy{0};         // written by submit() and the workers, read by any thread
  std::atomic<int>& m_running;        // written by the workers, read by the status line
  std::vector<std::thread> m_threads; // the owner's thread only
};

} // namespace pgtq::queue
