#include "queue/backoff.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <random>

namespace pgtq::queue {

double backoff_seconds(const plugin::BackoffPolicy& policy, int attempt, double jitter01) {
  const double exponent = std::max(attempt - 1, 0);
  // pow can overflow to inf for large attempts; min() with the cap keeps it finite.
  const double raw = policy.base_s * std::pow(policy.factor, exponent);
  const double capped = std::isfinite(raw) ? std::min(raw, policy.cap_s) : policy.cap_s;
  return storable_delay(capped * (0.8 + 0.4 * std::clamp(jitter01, 0.0, 1.0)));
}

double backoff_seconds(const plugin::BackoffPolicy& policy, int attempt) {
  return backoff_seconds(policy, attempt, random01());
}

double storable_delay(double seconds) {
  if (std::isnan(seconds) || seconds <= 0) {
    return 0;
  }
  return std::min(seconds, k_max_delay_seconds);
}

std::chrono::steady_clock::duration to_clock_duration(double seconds) {
  const std::chrono::duration<double> clamped(storable_delay(seconds));
  return std::chrono::duration_cast<std::chrono::steady_clock::duration>(clamped);
}

double random01() {
  thread_local std::mt19937_64 generator{std::random_device{}()};
  return std::uniform_real_distribution<double>(0.0, 1.0)(generator);
}

std::chrono::milliseconds retry_delay(int failures,
                                      double jitter01,
                                      std::chrono::milliseconds first,
                                      std::chrono::milliseconds cap) {
  // Doubling stops at the cap, long before the shift could overflow.
  auto base = first;
  for (int i = 0; i < failures && base < cap; ++i) {
    base *= 2;
  }
  base = std::min(base, cap);
  const double spread = 0.5 + std::clamp(jitter01, 0.0, 1.0);
  return std::chrono::milliseconds(
      std::max<long long>(1, std::llround(static_cast<double>(base.count()) * spread)));
}

} // namespace pgtq::queue
