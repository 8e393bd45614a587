#include "queue/backoff.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <cmath>
#include <limits>
#include <set>

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

TEST_CASE("a backoff cap beyond 100 years gives 100 years") {
  const BackoffPolicy policy{.base_s = 1e300, .factor = 2, .cap_s = 1e300};
  CHECK(backoff_seconds(policy, 3, 0.5) == pgtq::queue::k_max_delay_seconds);
}

TEST_CASE("delays are stored between 0 and 100 years, NaN and negative as 0") {
  using pgtq::queue::k_max_delay_seconds;
  using pgtq::queue::storable_delay;
  CHECK(storable_delay(1.5) == 1.5);
  CHECK(storable_delay(-3) == 0);
  CHECK(storable_delay(std::nan("")) == 0);
  CHECK(storable_delay(1e300) == k_max_delay_seconds);
  CHECK(storable_delay(std::numeric_limits<double>::infinity()) == k_max_delay_seconds);
  CHECK(k_max_delay_seconds == 3155760000.0);
}

TEST_CASE("seconds become clock durations without overflowing the nanosecond clock") {
  using pgtq::queue::to_clock_duration;
  using std::chrono::steady_clock;
  CHECK(to_clock_duration(0.25) == std::chrono::milliseconds(250));
  CHECK(to_clock_duration(-1) == steady_clock::duration::zero());
  CHECK(to_clock_duration(std::nan("")) == steady_clock::duration::zero());
  // 300 and 1e300 years would wrap a 64-bit nanosecond count; both are cut to 100 years.
  const auto century = to_clock_duration(pgtq::queue::k_max_delay_seconds);
  CHECK(century > steady_clock::duration::zero());
  CHECK(to_clock_duration(300.0 * 365.25 * 86400) == century);
  CHECK(to_clock_duration(1e300) == century);
  CHECK(steady_clock::now() + to_clock_duration(1e300) > steady_clock::now());
}

TEST_CASE("retry delays double up to the cap and are spread by +-50 % jitter") {
  using pgtq::queue::retry_delay;
  using std::chrono::milliseconds;
  CHECK(retry_delay(0, 0.5) == milliseconds(250));
  CHECK(retry_delay(1, 0.5) == milliseconds(500));
  CHECK(retry_delay(3, 0.5) == milliseconds(2000));
  CHECK(retry_delay(100, 0.5) == milliseconds(30000));
  CHECK(retry_delay(1000000, 0.5) == milliseconds(30000));
  CHECK(retry_delay(2, 0.0) == milliseconds(500));
  CHECK(retry_delay(2, 1.0) == milliseconds(1500));
  CHECK(retry_delay(0, 0.5, milliseconds(10), milliseconds(40)) == milliseconds(10));
  CHECK(retry_delay(5, 0.5, milliseconds(10), milliseconds(40)) == milliseconds(40));
}

TEST_CASE("RetryBackoff: jittered delays of daemons that failed together differ") {
  pgtq::queue::RetryBackoff first;
  pgtq::queue::RetryBackoff second;
  std::set<long long> seen;
  for (int i = 0; i < 20; ++i) {
    first.reset();
    second.reset();
    const auto a = first.next();
    const auto b = second.next();
    CHECK(a >= std::chrono::milliseconds(125));
    CHECK(a <= std::chrono::milliseconds(375)); // 250 ms +-50 %, rounded to whole ms
    seen.insert(a.count());
    seen.insert(b.count());
  }
  CHECK(seen.size() > 10);
  CHECK(first.failures() == 1);
}
