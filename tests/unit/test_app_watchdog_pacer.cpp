// When WATCHDOG=1 is due: once per interval, and only while the claim loop turns.
#include "app/watchdog_pacer.hpp"

#include <doctest/doctest.h>

using pgtq::app::claim_loop_longest_wait;
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

TEST_CASE("a long poll widens what counts as turning") {
  WatchdogPacer pacer(1s, 600s); // the loop may sleep ten minutes
  const auto start = WatchdogPacer::Clock::time_point(1h);
  CHECK(pacer.due(start + 500s, start));
  CHECK_FALSE(pacer.due(start + 700s, start));
}

TEST_CASE("an idle claim loop counts as turning for its poll interval, not its heartbeat") {
  // poll-interval = 30, heartbeat = 5, WatchdogSec = 20: the loop sleeps up to 33 s.
  const auto longest = claim_loop_longest_wait(std::chrono::duration<double>(30.0));
  CHECK(longest >= 33s - 1ms);
  CHECK(longest <= 33s + 1ms);
  WatchdogPacer pacer(10s, longest);
  const auto start = WatchdogPacer::Clock::time_point(1h);
  CHECK(pacer.due(start, start));
  CHECK(pacer.due(start + 10s, start));
  CHECK(pacer.due(start + 20s, start));
  CHECK(pacer.due(start + 30s, start));
  // wait_for_work() never sleeps longer than 60 s, whatever the poll interval.
  CHECK(claim_loop_longest_wait(std::chrono::duration<double>(600.0)) == 60s);
}
