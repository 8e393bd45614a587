#pragma once

#include <algorithm>
#include <chrono>
#include <optional>

namespace pgtq::app {

// When to send systemd WATCHDOG=1: once per interval (half of WatchdogSec=, as
// sd_watchdog_enabled() reports it), and only while the claim loop turns. A healthy loop
// turns at least every longest_wait (see claim_loop_longest_wait), so a last turn older than that
// plus a margin (the interval, at least 10 s: a slow statement is not a hang) means it hangs, and
// systemd is left to restart pgtqd. The longest an idle claim loop sleeps between turns: until its
// next poll (the poll interval plus up to 10 % jitter), never more than 60 s (wait_for_work's cap).
// The heartbeat does not wake it: the lease keeper renews leases on its own thread.
inline std::chrono::steady_clock::duration
claim_loop_longest_wait(std::chrono::duration<double> poll_interval) {
  return std::chrono::duration_cast<std::chrono::steady_clock::duration>(
      std::min<std::chrono::duration<double>>(poll_interval * 1.1, std::chrono::seconds(60)));
}

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
