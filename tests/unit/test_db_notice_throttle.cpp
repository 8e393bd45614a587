// db/notice_throttle: a server notice repeated within a minute is logged once, and the next
// one logged says how many were held back.
#include "db/notice_throttle.hpp"

#include <doctest/doctest.h>

using pgtq::db::NoticeThrottle;
using namespace std::chrono_literals;

TEST_CASE("a notice repeated within the window is held back and counted") {
  NoticeThrottle throttle;
  const auto start = NoticeThrottle::Clock::time_point{} + 1h;
  CHECK(throttle.admit("two pgtqd", start) == "two pgtqd");
  CHECK_FALSE(throttle.admit("two pgtqd", start + 1s).has_value());
  CHECK_FALSE(throttle.admit("two pgtqd", start + 59s).has_value());
  CHECK(throttle.admit("two pgtqd", start + 61s) ==
        "two pgtqd (and 2 times more in the last 61 s)");
  // Another text is logged at once; the first again too, then held back.
  CHECK(throttle.admit("other", start + 62s) == "other");
  CHECK(throttle.admit("two pgtqd", start + 63s) == "two pgtqd");
  CHECK_FALSE(throttle.admit("two pgtqd", start + 64s).has_value());
}

TEST_CASE("a notice that is not repeated is logged as it is") {
  NoticeThrottle throttle;
  const auto start = NoticeThrottle::Clock::time_point{} + 1h;
  CHECK(throttle.admit("a", start) == "a");
  CHECK(throttle.admit("a", start + 2min) == "a");
  CHECK(throttle.admit("b", start + 2min) == "b");
}
