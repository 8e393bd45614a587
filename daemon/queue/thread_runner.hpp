#pragma once

#include "queue/task_executor.hpp"
#include "queue/task_runner.hpp"

#include <chrono>

namespace pgtq::queue {

// isolation = thread: runs each attempt on the pool thread itself, in pgtqd's process. A
// timeout only raises should_stop() (nothing can be killed safely), and a crash takes pgtqd
// down.
class ThreadRunner final : public TaskRunner {
public:
  // default_timeout: the daemon's task-timeout (zero: none). Each task runs on the plugins
  // it was claimed under (ClaimedTask::plugins).
  explicit ThreadRunner(std::chrono::nanoseconds default_timeout)
      : m_default_timeout(default_timeout) {}

  std::optional<Outcome> run(int slot, const ClaimedTask& task, const Attempt& attempt) override;

private:
  const std::chrono::nanoseconds m_default_timeout;
};

} // namespace pgtq::queue
