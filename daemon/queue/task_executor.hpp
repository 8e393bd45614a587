#pragma once

#include "plugin/handler_registry.hpp"
#include "queue/task.hpp"

#include <atomic>
#include <chrono>
#include <optional>
#include <string>

namespace pgtq::queue {

// Runs one attempt of one task through its plugin handler and turns what the handler did
// into an Outcome. Never throws: whatever the plugin does short of crashing the process
// becomes a recorded outcome.
class TaskExecutor {
public:
  explicit TaskExecutor(const plugin::HandlerRegistry& registry) : m_registry(registry) {}

  // timeout_s: seconds from the start until the handler's should_stop() turns true (none:
  // only stop does); a retry without an error message after that says it timed out. reporter
  // receives the handler's progress and checkpoints as they come (may be nullptr); the outcome
  // carries the last of each, and the follow-ups of a done attempt.
  Outcome run(const ClaimedTask& task,
              const std::atomic<bool>& stop,
              std::optional<double> timeout_s = std::nullopt,
              plugin::TaskReporter* reporter = nullptr) const;

  const plugin::HandlerRegistry& registry() const { return m_registry; }

private:
  Outcome call_handler(const ClaimedTask& task,
                       const std::atomic<bool>& stop,
                       std::optional<double> timeout_s,
                       pgtq_task& context) const;

  const plugin::HandlerRegistry& m_registry;
};

// How long an attempt of task may run: the timeout given at its push, else its handler's (the
// plugin's for the task name), else the daemon's default (zero: none). Nothing when none sets
// one. handler may be nullptr.
std::optional<double> attempt_timeout(const ClaimedTask& task,
                                      const plugin::Handler* handler,
                                      std::chrono::nanoseconds daemon_default);

// "timed out after 2 s", "timed out after 0.5 s": the words every timed-out attempt records.
std::string timed_out_text(double timeout_s);

// The task this thread is running right now (nullptr when idle), for the crash report.
const ClaimedTask* current_task() noexcept;

} // namespace pgtq::queue
