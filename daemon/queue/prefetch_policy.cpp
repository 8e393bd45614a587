#include "queue/prefetch_policy.hpp"

#include <algorithm>
#include <cmath>

namespace pgtq::queue {

namespace {

// Weight of one attempt (or claim) in the moving means: about the last 32 count, so that a
// queue whose tasks turn slow stops prefetching within one batch or two.
constexpr double k_weight = 1.0 / 32;

void add_to_mean(std::optional<double>& mean, double value) {
  mean = mean ? *mean + k_weight * (value - *mean) : value;
}

} // namespace

void PrefetchPolicy::on_attempt(double duration_s) {
  if (!std::isfinite(duration_s) || duration_s < 0) {
    return;
  }
  add_to_mean(m_mean_s, duration_s);
}

void PrefetchPolicy::on_claim(int requested, int claimed, std::size_t args_bytes) {
  if (claimed > 0) {
    // One step per claim, whatever its size (a batch's tasks mostly share their shape), and
    // up at once: a queue whose args turn large must not be held by the hundred while the
    // mean catches up.
    const double per_task = static_cast<double>(args_bytes) / claimed;
    add_to_mean(m_mean_bytes, per_task);
    m_mean_bytes = std::max(*m_mean_bytes, per_task);
  }
  if (requested <= 0) {
    return;
  }
  m_per_worker =
      claimed >= requested ? std::min(m_per_worker * 2, k_deep_per_worker) : k_shallow_per_worker;
}

double PrefetchPolicy::startable_within(double window_s) const {
  // Each worker starts one task every mean seconds: within the window, window / mean each.
  return m_concurrency * window_s / std::max(*m_mean_s, 1e-9);
}

std::optional<int> PrefetchPolicy::keep_waiting() const {
  if (m_fixed || !m_mean_s) {
    return std::nullopt;
  }
  return static_cast<int>(
      std::min(startable_within(k_keep_window_s), static_cast<double>(k_max_held)));
}

int PrefetchPolicy::prefetch() const {
  if (m_fixed) {
    return *m_fixed;
  }
  if (!m_mean_s) {
    return 0;
  }
  double most = std::min(m_concurrency * m_per_worker, k_max_held);
  if (m_mean_bytes && *m_mean_bytes > 0) {
    most = std::min(most, k_held_bytes / *m_mean_bytes);
  }
  return static_cast<int>(std::min(startable_within(k_window_s), most));
}

} // namespace pgtq::queue
