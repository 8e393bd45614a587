#include "queue/backoff.hpp"

#include <doctest/doctest.h>

using pgtq::plugin::BackoffPolicy;
using pgtq::queue::backoff_seconds;

TEST_CASE("backoff grows by the factor per attempt, is capped, and jitters by +-20 %") {
  const BackoffPolicy policy{.base_s = 1, .factor = 2, .cap_s = 60};
  SUBCASE("without jitter (midpoint)") {
    CHECK(backoff_seconds(policy, 1, 0.5) == doctest::Approx(1.0));
    CHECK(backoff_seconds(policy, 2, 0.5) == doctest::Approx(2.0));
    CHECK(backoff_seconds(policy, 5, 0.5) == doctest::Approx(16.0));
    CHECK(backoff_seconds(policy, 7, 0.5) == doctest::Approx(60.0));
  }
  SUBCASE("jitter bounds") {
    CHECK(backoff_seconds(policy, 3, 0.0) == doctest::Approx(4.0 * 0.8));
    CHECK(backoff_seconds(policy, 3, 1.0) == doctest::Approx(4.0 * 1.2));
  }
  SUBCASE("huge attempt numbers stay finite and capped") {
    CHECK(backoff_seconds(policy, 100000, 0.5) == doctest::Approx(60.0));
  }
  SUBCASE("attempt 0 or negative counts as the first") {
    CHECK(backoff_seconds(policy, 0, 0.5) == doctest::Approx(1.0));
  }
  SUBCASE("random jitter stays inside the bounds") {
    for (int i = 0; i < 1000; ++i) {
      const double delay = backoff_seconds(policy, 2);
      CHECK(delay >= 1.6);
      CHECK(delay < 2.4);
    }
  }
}
