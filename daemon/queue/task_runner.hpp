#pragma once

#include "queue/in_flight.hpp"
#include "queue/task.hpp"

#include <atomic>
#include <functional>
#include <memory>
#include <optional>

namespace pgtq::queue {

// A claimed task handed to the pool, with its attempt (shared with the claim loop, which
// raises its stop flag on shutdown, cancellation or a lost lease).
struct Job {
  ClaimedTask task;
  std::shared_ptr<const Attempt> attempt;
  // How often a worker process died after it was sent this job's Run but before it started
  // it (ProcessRunner): given back uncounted so far.
  int deaths_before_start = 0;
};

// What a pool thread offers its runner beside the job it hands over (TaskRunner::run_jobs):
// more jobs from the pool's queue, to be run one after the other on the same slot, and
// where each job's end is reported. One pool thread's, for the call.
class JobFeed {
public:
  virtual ~JobFeed() = default;
  // Another job from the pool's queue, if one waits and accept() takes it (asked under the
  // pool's lock, so it must be quick): one that no idle pool thread would take, or (greedy,
  // for attempts too short to be worth another thread's wake-up) any.
  virtual std::optional<Job> take_next(bool greedy,
                                       const std::function<bool(const Job&)>& accept) = 0;
  // A job from take_next() that was not started goes back to the head of the queue (or,
  // while the pool stops or drains, is given back to be released).
  virtual void put_back(Job job) = 0;
  // Every job handed to run_jobs or taken from take_next() ends here exactly once: with its
  // outcome, or with nothing when it is to be given back (released).
  virtual void done(Job job, std::optional<Outcome> outcome) = 0;
  // Whether the pool drains (a shutdown): jobs not started go back to be released.
  virtual bool draining() const { return false; }
  // Jobs wait in the pool's queue that this slot does not take now: wake an idle thread.
  virtual void pass_on() {}
};

// Where the WorkerPool's threads run their attempts: in pgtqd itself (ThreadRunner,
// isolation = thread) or each in a supervised worker process of its own (ProcessRunner,
// isolation = process). A pool thread always uses the same slot, 0..threads-1, so a runner
// keeps per-slot state (a worker process) that only that thread touches.
class TaskRunner {
public:
  virtual ~TaskRunner() = default;

  // On pool thread `slot`, before it waits for its next task: get ready to run one at once
  // (a process runner starts the slot's worker process here, waiting out its restart
  // backoff). Returns promptly after abandon(), and when job_waiting() turns true while the
  // slot cannot start a worker (run() then gives the task back).
  virtual void prepare(int /*slot*/, const std::function<bool()>& /*job_waiting*/) {}

  // Runs one attempt on pool thread `slot`; attempt.stop is raised by the claim loop and the
  // lease keeper (cancelled, lease lost, shutdown). Nothing when the task is to be given
  // back: it was never started (no worker could be started), or (process runner) its worker
  // was killed after a stop that was not a cancellation, or its handler answered a retry
  // after shutdown stopped it. Never throws.
  virtual std::optional<Outcome> run(int slot, const ClaimedTask& task, const Attempt& attempt) = 0;

  // Runs `job` on pool thread `slot`, and perhaps more jobs taken from `feed` meanwhile;
  // reports each through feed.done(). One attempt at a time unless the runner hands its
  // worker process the next task while the last runs (ProcessRunner). Never throws.
  virtual void run_jobs(int slot, Job job, JobFeed& feed) {
    std::optional<Outcome> outcome = run(slot, job.task, *job.attempt);
    feed.done(std::move(job), std::move(outcome));
  }

  // Whether a burst of jobs should wake one pool thread, which takes several (run_jobs,
  // take_next greedy) and wakes another only for what it leaves, instead of one thread
  // per job: while attempts are shorter than a thread's wake-up. Any thread.
  virtual bool batches_jobs() const { return false; }

  // How many slots cannot run a task now: their worker process could not be started. The
  // claim loop claims nothing while none can. Any thread.
  virtual int unavailable_slots() const { return 0; }

  // Whether a handler that does not return after it was asked to stop is ended by the runner
  // (timeout-grace later; its run() then returns). A thread cannot be, so the claim loop
  // releases those tasks itself at shutdown.
  virtual bool ends_stopped_handlers() const { return false; }

  // From the claim loop's thread: the plugins new claims run on from now on (a reload).
  virtual void use_plugins(std::shared_ptr<const plugin::PluginSet> /*plugins*/) {}

  // From the pool's owner at shutdown, when handlers are still running after they were asked
  // to stop: end them if that can be done safely (a process runner kills its workers; a
  // thread cannot be killed, so the thread runner does nothing). Any thread.
  virtual void abandon() {}
};

} // namespace pgtq::queue
