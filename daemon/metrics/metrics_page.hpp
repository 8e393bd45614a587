#pragma once

#include "metrics/process_figures.hpp"
#include "metrics/queue_figures.hpp"
#include "queue/daemon_state.hpp"
#include "queue/scheduler.hpp"

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pgtq::metrics {

// One claim loop of this pgtqd, as the page reads it. state is borrowed: it outlives the
// page.
struct LoopView {
  std::string queue;
  int concurrency = 0; // the workers it may use (shared ones: the whole shared pool)
  const queue::DaemonState* state = nullptr;
};

// Everything /metrics shows, gathered by the caller.
struct PageSources {
  std::string_view version;
  std::vector<LoopView> loops;
  const queue::Scheduler::Counters* scheduler = nullptr; // null: scheduler = false
  QueueFigures::Reading database;
  std::optional<ProcessFigures> process;
};

// The Prometheus text page: the per-queue figures of the database, this pgtqd's counters
// per queue and task name, its scheduler's and its process's (names in docs/operations.md).
std::string render_metrics(const PageSources& sources);

} // namespace pgtq::metrics
