#pragma once

#include <chrono>
#include <optional>

namespace pgtq::app {

// When to send systemd WATCHDOG=1: once per interval (half of WatchdogSec=, as
// sd_watchdog_enabled() reports it), and only while the claim loop turns. A healthy loop
// turns at least every longest_wait (it sleeps until the next heartbeat or poll, whichever
// comes first), so a last turn older than that plus a margin (the interval, at least 10 s:
// a slow statement is not a hang) means it hangs, and systemd is left to restart pgtqd.
class WatchdogPacer {
public:
  using Clock = std::chrono::steady_clock;

  WatchdogPacer(Clock::duration interval, Clock::duration longest_wait);

  // Whether to send WATCHDOG=1 now; counts it as sent when it says yes.
  bool due(Clock::time_point now, Clock::time_point last_turn);

private:
  Clock::duration m_interval;
  Clock::duration m_stale_after;
  std::optional<Clock::time_point> m_last_ping;
};

} // namespace pgtq::app
