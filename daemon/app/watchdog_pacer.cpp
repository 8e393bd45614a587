#include "app/watchdog_pacer.hpp"

#include <algorithm>

namespace pgtq::app {

WatchdogPacer::WatchdogPacer(Clock::duration interval, Clock::duration longest_wait)
    : m_interval(interval),
      m_stale_after(longest_wait + std::max<Clock::duration>(interval, std::chrono::seconds(10))) {}

bool WatchdogPacer::due(Clock::time_point now, Clock::time_point last_turn) {
  if (now - last_turn > m_stale_after) {
    return false;
  }
  if (m_last_ping && now - *m_last_ping < m_interval) {
    return false;
  }
  m_last_ping = now;
  return true;
}

} // namespace pgtq::app
