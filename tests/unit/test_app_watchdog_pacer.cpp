// When WATCHDOG=1 is due: once per interval, and only while the claim loop turns.
#include "app/watchdog_pacer.hpp"

#include <doctest/doctest.h>

using pgtq::app::WatchdogPacer;
using namespace std::chrono_literals;

TEST_CASE("the watchdog is fed once per interval while the claim loop turns") {
  WatchdogPacer pacer(15s, 2s); // WatchdogSec=30s; the loop waits at most 2 s between turns
  const auto start = WatchdogPacer::Clock::time_point(1h);
  int pings = 0;
  // The main loop asks every 200 ms for two minutes; the claim loop turned just now.
  for (auto now = start; now < start + 120s; now += 200ms) {
    pings += pacer.due(now, now - 1s) ? 1 : 0;
  }
  CHECK(pings == 8);
}

TEST_CASE("a claim loop that stopped turning gets no pings, and gets them again when it turns") {
  WatchdogPacer pacer(15s, 2s);
  const auto start = WatchdogPacer::Clock::time_point(1h);
  CHECK(pacer.due(start, start));
  const auto last_turn = start;
  // Idle waits up to 2 s, plus a margin of the interval (at least 10 s): 17 s.
  CHECK(pacer.due(start + 16s, last_turn));
  CHECK_FALSE(pacer.due(start + 32s, last_turn));
  CHECK_FALSE(pacer.due(start + 60s, last_turn));
  CHECK(pacer.due(start + 61s, start + 61s));
}

TEST_CASE("a long poll or heartbeat widens what counts as turning") {
  WatchdogPacer pacer(1s, 600s); // poll-interval and heartbeat of ten minutes
  const auto start = WatchdogPacer::Clock::time_point(1h);
  CHECK(pacer.due(start + 500s, start));
  CHECK_FALSE(pacer.due(start + 700s, start));
}
