#pragma once

#include "queue/in_flight.hpp"
#include "queue/task.hpp"

#include <atomic>
#include <functional>
#include <memory>
#include <optional>

namespace pgtq::queue {

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
