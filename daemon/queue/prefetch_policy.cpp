#include "queue/prefetch_policy.hpp"

#include <algorithm>
#include <cmath>

namespace pgtq::queue {

namespace {

// Weight of one attempt in the moving mean: about the last 32 attempts count, so that a
// queue whose tasks turn slow stops prefetching within one batch or two.
constexpr double k_weight = 1.0 / 32;

} // namespace

void PrefetchPolicy::on_attempt(double duration_s) {
  if (!std::isfinite(duration_s) || duration_s < 0) {
    return;
  }
  m_mean_s = m_mean_s ? *m_mean_s + k_weight * (duration_s - *m_mean_s) : duration_s;
}

int PrefetchPolicy::prefetch() const {
  if (m_fixed) {
    return *m_fixed;
  }
  if (!m_mean_s) {
    return 0;
  }
  const int most = m_concurrency * k_max_per_worker;
  // Each worker starts one task every mean seconds: within the window, window / mean each.
  const double startable = m_concurrency * k_window_s / std::max(*m_mean_s, 1e-9);
  return startable >= most ? most : static_cast<int>(startable);
}

} // namespace pgtq::queue
