// plugin.hpp: every delay a C++ plugin hands pgtqd (Retry, Snooze, Context::set_retry_delay,
// backoff) lies in [0, PGTQ_MAX_DELAY_SECONDS], whatever the handler computed.
#include "test_plugin_fake_host.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

using pgtq::test::FakeHost;
using pgtq::test::Outcome;

namespace {

constexpr double k_max = 3155760000.0; // 100 years of 365.25 days
constexpr double k_inf = std::numeric_limits<double>::infinity();
const double k_nan = std::nan("");

static_assert(PGTQ_MAX_DELAY_SECONDS == k_max);

template <class F> Outcome run_one(F fn) {
  FakeHost host;
  REQUIRE(host.load([&](pgtq::Registry& r) { r.add("h", fn); }) == 0);
  return host.run("h", "[]");
}

struct Case {
  double asked;
  double given;
};

// NaN and negative mean at once; beyond the maximum, infinity included, means the maximum.
const std::vector<Case> k_cases = {
    {0, 0},
    {7.5, 7.5},
    {k_max, k_max},
    {k_max + 1, k_max},
    {1e300, k_max},
    {k_inf, k_max},
    {-5, 0},
    {-k_inf, 0},
    {k_nan, 0},
    {-0.0, 0},
    {1e-300, 1e-300},
};

} // namespace

TEST_CASE("pgtq::Retry with an extreme delay asks for a delay within 0 to 100 years") {
  for (const Case& c : k_cases) {
    CAPTURE(c.asked);
    const Outcome outcome = run_one([&] { throw pgtq::Retry("later", c.asked); });
    CHECK(outcome.status == PGTQ_RETRY);
    CHECK(outcome.task.error == "later");
    REQUIRE(outcome.task.retry_delay.has_value());
    CHECK(*outcome.task.retry_delay == c.given);
  }
  // Without a delay the handler's backoff applies: nothing is asked.
  CHECK_FALSE(run_one([] { throw pgtq::Retry("later"); }).task.retry_delay.has_value());
  CHECK(pgtq::Retry("x", k_nan).has_delay());
}

TEST_CASE("pgtq::Snooze with an extreme delay asks for a delay within 0 to 100 years") {
  for (const Case& c : k_cases) {
    CAPTURE(c.asked);
    const Outcome outcome = run_one([&] { throw pgtq::Snooze(c.asked); });
    CHECK(outcome.status == PGTQ_SNOOZE);
    REQUIRE(outcome.task.retry_delay.has_value());
    CHECK(*outcome.task.retry_delay == c.given);
  }
  CHECK(std::string(pgtq::Snooze(k_nan).what()) == "snoozed for 0 s");
  CHECK(std::string(pgtq::Snooze(1e300).what()) == "snoozed for 3.15576e+09 s");
  CHECK(pgtq::Snooze(-1).seconds() == 0);
}

TEST_CASE("Context::set_retry_delay with an extreme delay asks for a delay within 0 to 100 years") {
  for (const Case& c : k_cases) {
    CAPTURE(c.asked);
    const Outcome outcome = run_one([&](pgtq::Context& ctx) {
      ctx.set_retry_delay(c.asked);
      throw pgtq::Retry("again");
    });
    REQUIRE(outcome.task.retry_delay.has_value());
    CHECK(*outcome.task.retry_delay == c.given);
  }
}

TEST_CASE("a backoff beyond 100 years is lowered to it, and NaN refuses the plugin") {
  SUBCASE("huge and infinite base and cap") {
    FakeHost host;
    REQUIRE(host.load([](pgtq::Registry& r) {
      r.add("huge", [] {}).backoff(1e300, 1e300, k_inf);
      r.add("fine", [] {}).backoff(2, 3, 600);
    }) == 0);
    const pgtq_handler& huge = *host.find("huge");
    CHECK(huge.backoff_base_s == k_max);
    CHECK(huge.backoff_factor == 1e300); // pgtqd caps base * factor^n at cap_s
    CHECK(huge.backoff_cap_s == k_max);
    const pgtq_handler& fine = *host.find("fine");
    CHECK(fine.backoff_base_s == 2);
    CHECK(fine.backoff_factor == 3);
    CHECK(fine.backoff_cap_s == 600);
  }
  SUBCASE("NaN in any field") {
    for (const pgtq::Backoff backoff :
         {pgtq::Backoff{k_nan, 2, 10}, pgtq::Backoff{1, k_nan, 10}, pgtq::Backoff{1, 2, k_nan}}) {
      FakeHost host;
      CHECK(host.load([&](pgtq::Registry& r) { r.add("h", [] {}).backoff(backoff); }) != 0);
      CHECK(host.names.empty());
      REQUIRE_FALSE(host.logs.empty());
      CHECK(host.logs.back().second.find("plugin setup failed: handler \"h\": backoff ") == 0);
      CHECK(host.logs.back().second.find(" is NaN") != std::string::npos);
    }
  }
}
