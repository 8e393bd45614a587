#pragma once

#include "queue/task.hpp"

#include <atomic>
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
  // backoff). Returns promptly after abandon().
  virtual void prepare(int /*slot*/) {}

  // Runs one attempt on pool thread `slot`; stop is raised by the claim loop and the lease
  // keeper (cancelled, lease lost, shutdown). Nothing when the attempt was never started
  // (no worker could be started before stop or abandon()): the caller gives the task back.
  // Never throws.
  virtual std::optional<Outcome>
  run(int slot, const ClaimedTask& task, const std::atomic<bool>& stop) = 0;

  // From the claim loop's thread: the plugins new claims run on from now on (a reload).
  virtual void use_plugins(std::shared_ptr<const plugin::PluginSet> /*plugins*/) {}

  // From the pool's owner at shutdown, when handlers are still running after they were asked
  // to stop: end them if that can be done safely (a process runner kills its workers; a
  // thread cannot be killed, so the thread runner does nothing). Any thread.
  virtual void abandon() {}
};

} // namespace pgtq::queue
