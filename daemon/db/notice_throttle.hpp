#pragma once

#include <chrono>
#include <optional>
#include <string>

namespace pgtq::db {

// Keeps one connection's server notices from flooding the log: a notice with the same text
// as the last one logged, within k_window of it, is counted instead of logged; the next one
// logged after the window says how many were held back. (The registry's warning about two
// pgtqd under one worker name came once a second from each of them.)
//
// Threads: one connection's, like the connection.
class NoticeThrottle {
public:
  using Clock = std::chrono::steady_clock;
  static constexpr std::chrono::seconds k_window{60};

  // The text to log for a notice that arrives at now, or nothing when it is held back.
  std::optional<std::string> admit(const std::string& text, Clock::time_point now);

private:
  std::string m_last;           // the text last logged
  Clock::time_point m_logged{}; // when
  long long m_held = 0;         // the same text held back since
};

} // namespace pgtq::db
