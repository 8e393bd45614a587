#include "db/notice_throttle.hpp"

namespace pgtq::db {

std::optional<std::string> NoticeThrottle::admit(const std::string& text, Clock::time_point now) {
  if (text == m_last && m_logged != Clock::time_point{} && now - m_logged < k_window) {
    ++m_held;
    return std::nullopt;
  }
  std::string line = text;
  if (text == m_last && m_held > 0) {
    line +=
        " (and " + std::to_string(m_held) + " times more in the last " +
        std::to_string(std::chrono::duration_cast<std::chrono::seconds>(now - m_logged).count()) +
        " s)";
  }
  m_last = text;
  m_logged = now;
  m_held = 0;
  return line;
}

} // namespace pgtq::db
