#include "queue/queue_metrics.hpp"

#include <algorithm>
#include <cmath>

namespace pgtq::queue {

void DurationHistogram::observe(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) {
    seconds = 0; // a clock step; the observation still counts
  }
  const auto bound = std::lower_bound(k_bounds.begin(), k_bounds.end(), seconds);
  if (bound != k_bounds.end()) {
    ++buckets[static_cast<std::size_t>(bound - k_bounds.begin())];
  }
  ++count;
  sum += seconds;
}

void QueueMetrics::record(
    const std::string& name, Ending ending, double duration_s, bool timed_out, bool crashed) {
  const std::lock_guard lock(m_mutex);
  TaskFigures& figures = m_tasks[name];
  ++figures.endings[static_cast<std::size_t>(ending)];
  figures.timeouts += timed_out ? 1 : 0;
  figures.crashes += crashed ? 1 : 0;
  figures.duration.observe(duration_s);
}

std::map<std::string, TaskFigures> QueueMetrics::tasks() const {
  const std::lock_guard lock(m_mutex);
  return m_tasks;
}

} // namespace pgtq::queue
