// The exceptions a C++ handler throws to choose its task's fate; plugin.hpp's barrier turns
// them into a pgtq_status plus an error message, so none of them ever reaches pgtqd.
#ifndef PGTQ_DETAIL_ERRORS_HPP
#define PGTQ_DETAIL_ERRORS_HPP

#include "pgtq/plugin.h"

#include <cstdio>
#include <stdexcept>
#include <string>

namespace pgtq {

// The longest delay pgtq schedules (PGTQ_MAX_DELAY_SECONDS: 100 years), in seconds.
inline constexpr double k_max_delay_s = PGTQ_MAX_DELAY_SECONDS;

namespace detail {

// Every delay a handler asks for, clamped to [0, k_max_delay_s]: NaN and negative values
// mean "now", larger ones and infinity the maximum.
constexpr double clamp_delay(double seconds) noexcept {
  if (!(seconds > 0)) {
    return 0;
  }
  return seconds < k_max_delay_s ? seconds : k_max_delay_s;
}

} // namespace detail

// Try again later: after the handler's backoff, or after delay_s seconds when given
// (clamped to [0, k_max_delay_s]; NaN and negative mean at once). Uses up an attempt; once
// attempts run out the task fails with this message.
class Retry : public std::runtime_error {
public:
  explicit Retry(const std::string& message) : std::runtime_error(message) {}
  Retry(const std::string& message, double delay_s)
      : std::runtime_error(message), m_has_delay(true), m_delay_s(detail::clamp_delay(delay_s)) {}

  bool has_delay() const noexcept { return m_has_delay; }
  double delay_s() const noexcept { return m_delay_s; }

private:
  bool m_has_delay = false;
  double m_delay_s = 0;
};

// Fail for good: bad input or anything another attempt cannot fix.
class PermanentError : public std::runtime_error {
public:
  explicit PermanentError(const std::string& message) : std::runtime_error(message) {}
};

// Not now: run again after seconds without using up an attempt (e.g. a rate limit).
// seconds is clamped to [0, k_max_delay_s]; NaN and negative mean at once.
class Snooze : public std::runtime_error {
public:
  explicit Snooze(double seconds)
      : std::runtime_error(message(detail::clamp_delay(seconds))),
        m_seconds(detail::clamp_delay(seconds)) {}

  double seconds() const noexcept { return m_seconds; }

private:
  static std::string message(double seconds) {
    char text[64];
    std::snprintf(text, sizeof text, "snoozed for %g s", seconds);
    return text;
  }

  double m_seconds;
};

namespace detail {

// A JSON value that does not fit a C++ type. path locates the offending part inside one
// argument (e.g. [2]["id"]) and grows as the error travels out of nested containers.
class DecodeError : public std::runtime_error {
public:
  explicit DecodeError(const std::string& message) : std::runtime_error(message) {}

  const std::string& path() const noexcept { return m_path; }
  void prepend_path(const std::string& outer) { m_path.insert(0, outer); }

private:
  std::string m_path;
};

} // namespace detail
} // namespace pgtq

#endif
