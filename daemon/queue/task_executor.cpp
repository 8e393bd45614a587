#include "queue/task_executor.hpp"

#include "plugin/host_api.hpp"
#include "plugin/plugin_call.hpp"
#include "queue/backoff.hpp"
#include "queue/queue_logger.hpp"

#include <spdlog/spdlog.h>

#include <chrono>
#include <cmath>

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

std::optional<double> attempt_timeout(const ClaimedTask& task,
                                      const plugin::Handler* handler,
                                      std::chrono::nanoseconds daemon_default) {
  if (task.timeout_s) {
    return task.timeout_s;
  }
  if (handler != nullptr && handler->timeout_s > 0) {
    return handler->timeout_s;
  }
  if (daemon_default > std::chrono::nanoseconds::zero()) {
    return std::chrono::duration<double>(daemon_default).count();
  }
  return std::nullopt;
}

std::string timed_out_text(double timeout_s) {
  // Whole seconds as digits ("1209600 s" for a push's '2 weeks', not "1.2096e+06 s").
  if (timeout_s == std::floor(timeout_s) && timeout_s < 1e15) {
    return fmt::format("timed out after {:.0f} s", timeout_s);
  }
  return fmt::format("timed out after {:g} s", timeout_s);
}

Outcome TaskExecutor::run(const ClaimedTask& task,
                          const std::atomic<bool>& stop,
                          std::optional<double> timeout_s,
                          plugin::TaskReporter* reporter) const {
  const auto started = std::chrono::steady_clock::now();
  pgtq_task context;
  context.task = {.id = task.id,
                  .name = &task.name,
                  .args = &task.args,
                  .attempt = task.attempt,
                  .parents = task.parents ? &*task.parents : nullptr,
                  .checkpoint = task.checkpoint ? &*task.checkpoint : nullptr};
  context.stop = &stop;
  context.reporter = reporter;
  Outcome outcome = call_handler(task, stop, timeout_s, context);
  // However the handler ended (a retry, a failure, a snooze, an exception), an attempt that
  // did not succeed by its deadline ran out of time.
  outcome.timed_out = outcome.status != OutcomeStatus::done && context.deadline &&
                      std::chrono::steady_clock::now() >= *context.deadline;
  outcome.progress = std::move(context.progress);
  outcome.checkpoint = std::move(context.checkpoint);
  if (outcome.status == OutcomeStatus::done) {
    outcome.followups = std::move(context.followups);
  }
  outcome.name = task.name;
  outcome.attempt = task.attempt;
  outcome.max_attempts = task.max_attempts;
  outcome.duration_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  return outcome;
}

Outcome TaskExecutor::call_handler(const ClaimedTask& task,
                                   const std::atomic<bool>& stop,
                                   std::optional<double> timeout_s,
                                   pgtq_task& context) const {
  const plugin::Handler* handler = m_registry.find(task.name);
  if (handler == nullptr) {
    // claim() only hands out names this daemon registered, so this is a bug, not bad input.
    return failed(task, OutcomeStatus::fail, "pgtqd has no handler for task \"" + task.name + "\"");
  }

  if (timeout_s) {
    context.deadline = std::chrono::steady_clock::now() + to_clock_duration(*timeout_s);
  }
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
  case PGTQ_RETRY: {
    // A handler that stopped because its time was up: the error says so first, whatever
    // else it says. The deadline is this process's own, in a worker process too.
    if (context.deadline && std::chrono::steady_clock::now() >= *context.deadline) {
      return failed(task,
                    OutcomeStatus::retry,
                    timed_out_text(*timeout_s) + (context.error.empty()
                                                      ? " (the handler stopped in time)"
                                                      : ": " + context.error),
                    delay);
    }
    if (!context.error.empty()) {
      return failed(task, OutcomeStatus::retry, std::move(context.error), delay);
    }
    return failed(task,
                  OutcomeStatus::retry,
                  stop.load() ? "stopped before finishing" : "handler asked for a retry",
                  delay);
  }
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
