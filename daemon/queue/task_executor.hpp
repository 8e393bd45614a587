#pragma once

#include "plugin/handler_registry.hpp"
#include "queue/task.hpp"

#include <atomic>

namespace pgtq::queue {

// Runs one attempt of one task through its plugin handler and turns what the handler did
// into an Outcome. Never throws: whatever the plugin does short of crashing the process
// becomes a recorded outcome.
class TaskExecutor {
public:
  explicit TaskExecutor(const plugin::HandlerRegistry& registry) : m_registry(registry) {}

  Outcome run(const ClaimedTask& task, const std::atomic<bool>& stop) const;

private:
  Outcome call_handler(const ClaimedTask& task, const std::atomic<bool>& stop) const;

  const plugin::HandlerRegistry& m_registry;
};

// The task this thread is running right now (nullptr when idle), for the crash report.
const ClaimedTask* current_task() noexcept;

} // namespace pgtq::queue
