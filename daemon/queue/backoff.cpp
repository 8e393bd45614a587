#include "queue/backoff.hpp"

#include <algorithm>
#include <cmath>
#include <random>

namespace pgtq::queue {

double backoff_seconds(const plugin::BackoffPolicy& policy, int attempt, double jitter01) {
  const double exponent = std::max(attempt - 1, 0);
  // pow can overflow to inf for large attempts; min() with the cap keeps it finite.
  const double raw = policy.base_s * std::pow(policy.factor, exponent);
  const double capped = std::isfinite(raw) ? std::min(raw, policy.cap_s) : policy.cap_s;
  return capped * (0.8 + 0.4 * std::clamp(jitter01, 0.0, 1.0));
}

double backoff_seconds(const plugin::BackoffPolicy& policy, int attempt) {
  thread_local std::mt19937_64 generator{std::random_device{}()};
  std::uniform_real_distribution<double> jitter(0.0, 1.0);
  return backoff_seconds(policy, attempt, jitter(generator));
}

} // namespace pgtq::queue
