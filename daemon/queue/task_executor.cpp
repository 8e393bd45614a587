#include "queue/task_executor.hpp"

#include "plugin/host_api.hpp"
#include "plugin/plugin_call.hpp"
#include "queue/backoff.hpp"
#include "queue/queue_logger.hpp"

#include <spdlog/spdlog.h>

#include <chrono>

namespace pgtq::queue {

namespace {

using plugin::call_plugin;

thread_local const ClaimedTask* t_current_task = nullptr;

// Marks the thread as running a task for as long as the handler call lasts.
class CurrentTask {
public:
  explicit CurrentTask(const ClaimedTask& task) { t_current_task = &task; }
  ~CurrentTask() { t_current_task = nullptr; }
  CurrentTask(const CurrentTask&) = delete;
  CurrentTask& operator=(const CurrentTask&) = delete;
};

Outcome
failed(const ClaimedTask& task, OutcomeStatus status, std::string error, double retry_in_s = 0) {
  Outcome outcome;
  outcome.id = task.id;
  outcome.claim = task.claim;
  outcome.status = status;
  outcome.error = std::move(error);
  outcome.retry_in_s = retry_in_s;
  return outcome;
}

} // namespace

const ClaimedTask* current_task() noexcept {
  return t_current_task;
}

Outcome TaskExecutor::run(const ClaimedTask& task, const std::atomic<bool>& stop) const {
  // The moment a worker takes the task up: between claim and here it may still be given back
  // unstarted (a shutdown, a cancellation).
  SPDLOG_LOGGER_DEBUG(logger(),
                      "task {} ({}) attempt {}/{} started",
                      task.id,
                      task.name,
                      task.attempt,
                      task.max_attempts);
  const auto started = std::chrono::steady_clock::now();
  Outcome outcome = call_handler(task, stop);
  outcome.name = task.name;
  outcome.attempt = task.attempt;
  outcome.max_attempts = task.max_attempts;
  outcome.duration_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return outcome;
}

Outcome TaskExecutor::call_handler(const ClaimedTask& task, const std::atomic<bool>& stop) const {
  const plugin::Handler* handler = m_registry.find(task.name);
  if (handler == nullptr) {
    // claim() only hands out names this daemon registered, so this is a bug, not bad input.
    return failed(task, OutcomeStatus::fail, "pgtqd has no handler for task \"" + task.name + "\"");
  }

  pgtq_task context;
  context.task = {.id = task.id, .name = &task.name, .args = &task.args, .attempt = task.attempt};
  context.stop = &stop;
  const auto handled = call_plugin(handler->plugin, "handle()", [&] {
    const CurrentTask marker(task);
    // As an int at once: a plugin may return a value no pgtq_status has (it is refused below),
    // and such an enum value must not be stored and read back.
    return static_cast<int>(handler->table.handle(handler->table.user_data, &context));
  });
  if (!handled) {
    // The ABI forbids exceptions here; a C++ plugin not using plugin.hpp may still throw.
    // What it set before throwing is not trusted: the attempt is retried after the backoff.
    return failed(task,
                  OutcomeStatus::retry,
                  "plugin \"" + handler->plugin + "\": " + handled.escaped,
                  backoff_seconds(handler->backoff, task.attempt));
  }
  const int status = *handled.value;

  const double delay =
      context.retry_delay_s.value_or(backoff_seconds(handler->backoff, task.attempt));
  switch (status) {
  case PGTQ_DONE: {
    if (!context.invalid_result.empty()) {
      return failed(
          task, OutcomeStatus::fail, "handler set an invalid result: " + context.invalid_result);
    }
    Outcome outcome;
    outcome.id = task.id;
    outcome.claim = task.claim;
    outcome.status = OutcomeStatus::done;
    outcome.result = std::move(context.result);
    return outcome;
  }
  case PGTQ_RETRY:
    return failed(task,
                  OutcomeStatus::retry,
                  context.error.empty()
                      ? (stop.load() ? "stopped before finishing" : "handler asked for a retry")
                      : std::move(context.error),
                  delay);
  case PGTQ_FAIL:
    return failed(task,
                  OutcomeStatus::fail,
                  context.error.empty() ? "handler failed" : std::move(context.error));
  case PGTQ_SNOOZE:
    return failed(
        task, OutcomeStatus::snooze, {}, context.retry_delay_s.value_or(handler->backoff.base_s));
  default:
    return failed(task,
                  OutcomeStatus::fail,
                  "handler returned an unknown status " + std::to_string(status) + " (plugin \"" +
                      handler->plugin + "\")");
  }
}

} // namespace pgtq::queue
