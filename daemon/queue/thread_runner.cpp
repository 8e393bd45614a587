#include "queue/thread_runner.hpp"

#include "queue/queue_logger.hpp"

#include <spdlog/spdlog.h>

namespace pgtq::queue {

std::optional<Outcome>
ThreadRunner::run(int /*slot*/, const ClaimedTask& task, const Attempt& attempt) {
  // The moment a worker takes the task up: between claim and here it may still be given back
  // unstarted (a shutdown, a cancellation).
  SPDLOG_LOGGER_DEBUG(logger(),
                      "task {} ({}) attempt {}/{} started",
                      task.id,
                      task.name,
                      task.attempt,
                      task.max_attempts);
  const plugin::HandlerRegistry& registry = task.plugins->registry();
  return TaskExecutor(registry).run(
      task,
      attempt.stop,
      attempt_timeout(task, registry.find(task.name), m_default_timeout),
      attempt.reports.get());
}

} // namespace pgtq::queue
