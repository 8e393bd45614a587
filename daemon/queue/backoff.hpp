#pragma once

#include "plugin/handler_registry.hpp"

#include <chrono>
#include <string>

namespace pgtq::queue {

// The longest delay pgtqd asks the database for (a retry, a snooze): 100 years, in seconds.
// Anything longer overflows PostgreSQL's timestamps ("timestamp out of range") and would fail
// the task instead of delaying it. The same value as PGTQ_MAX_DELAY_SECONDS in plugin.h.
inline constexpr double k_max_delay_seconds = 3155760000.0;

// Seconds to wait before attempt `attempt + 1`, after attempt `attempt` (1-based) failed:
// base * factor^(attempt-1), capped at cap, scaled by jitter in [0.8, 1.2) from jitter01 in
// [0, 1) so that tasks failing together do not come back together. Never more than
// k_max_delay_seconds.
double backoff_seconds(const plugin::BackoffPolicy& policy, int attempt, double jitter01);

// The same, with jitter from a thread-local random generator.
double backoff_seconds(const plugin::BackoffPolicy& policy, int attempt);

// A delay in seconds as the database may store it: NaN and negative become 0, anything
// beyond k_max_delay_seconds (infinity included) becomes k_max_delay_seconds.
double storable_delay(double seconds);

// Seconds as a steady_clock duration, for waits computed from configuration or database
// values: NaN and negative become 0, and the result is at most 100 years, so that the
// conversion to nanoseconds (which overflows after ~292 years) cannot wrap around.
std::chrono::steady_clock::duration to_clock_duration(double seconds);

// A random number in [0, 1) from a thread-local generator.
double random01();

// How long to wait before retry number failures + 1 of something that failed `failures`
// times in a row (reconnects, ticks): first * 2^failures, capped at cap, then spread over
// [50 %, 150 %) of that by jitter01 in [0, 1), so that many daemons that lost the database
// at the same moment do not all come back in the same few milliseconds.
std::chrono::milliseconds
retry_delay(int failures,
            double jitter01,
            std::chrono::milliseconds first = std::chrono::milliseconds(250),
            std::chrono::milliseconds cap = std::chrono::seconds(30));

// retry_delay() with state: next() returns the delay for the next wait and counts the
// failure; reset() after a success.
class RetryBackoff {
public:
  explicit RetryBackoff(std::chrono::milliseconds first = std::chrono::milliseconds(250),
                        std::chrono::milliseconds cap = std::chrono::seconds(30))
      : m_first(first), m_cap(cap) {}

  std::chrono::milliseconds next() { return retry_delay(m_failures++, random01(), m_first, m_cap); }
  void reset() { m_failures = 0; }
  int failures() const { return m_failures; }

private:
  std::chrono::milliseconds m_first;
  std::chrono::milliseconds m_cap;
  int m_failures = 0;
};

} // namespace pgtq::queue
