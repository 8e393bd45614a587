#include "queue/idle_registration.hpp"

#include "db/queries.hpp"
#include "queue/queue_logger.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace pgtq::queue {

void IdleRegistration::reset() {
  m_state = State::unregistered;
  m_recheck = false;
  m_full_since.reset();
}

void IdleRegistration::on_claim(bool full, Clock::time_point now) {
  if (!full) {
    m_full_since.reset();
  } else if (!m_full_since) {
    m_full_since = now;
  }
}

void IdleRegistration::on_poll() {
  m_recheck = m_state == State::settled;
}

bool IdleRegistration::pushes_ended(db::Connection& connection, bool first) {
  const db::Result rows = connection.run(db::queries::k_pushes_in_flight,
                                         {m_queue, first ? db::Param() : db::Param(m_in_flight)});
  m_in_flight = rows.string(0, 0);
  return m_in_flight == "{}";
}

void IdleRegistration::leave(db::Connection& connection) {
  if (m_state != State::unregistered) {
    connection.run(db::queries::k_worker_busy, {m_queue});
    m_state = State::unregistered;
    m_recheck = false;
  }
}

bool IdleRegistration::update(db::Connection& connection, bool idle, Clock::time_point now) {
  if (!m_enabled) {
    return false;
  }
  if (!idle) {
    if (m_full_since && now - *m_full_since >= k_busy_after) {
      if (m_state != State::unregistered) {
        SPDLOG_LOGGER_DEBUG(logger(), "busy: pushes no longer notify this loop");
      }
      leave(connection);
    }
    return false;
  }
  if (m_state == State::settled && !m_recheck) {
    return false;
  }
  if (m_state == State::settling) {
    if (now < m_next_check) {
      return false;
    }
    const std::string before = m_in_flight;
    if (!pushes_ended(connection, false)) {
      const Clock::duration cap = now - m_settling_since < k_patient_after
                                      ? k_max_check_delay
                                      : std::max(k_max_check_delay, m_poll_interval);
      m_check_delay = std::min(m_check_delay * 2, cap);
      m_next_check = now + m_check_delay;
      // Those that ended have committed their tasks, whatever the others still do.
      return m_in_flight != before;
    }
  } else {
    // Committed before pushes_in_flight() looks: a push that looks for it later sees it.
    const bool inserted =
        connection.run(db::queries::k_worker_idle, {m_queue, m_worker}).string(0, 0) == "t";
    if (m_recheck) {
      m_recheck = false;
      if (!inserted) {
        return false; // still registered: nothing was missed
      }
      logger()->warn("this loop's row in pgtq.idle_workers was gone (deleted by hand?): pushes "
                     "did not wake it until now; registered again");
    }
    m_check_delay = std::chrono::milliseconds(1);
    m_settling_since = now;
    if (!pushes_ended(connection, true)) {
      m_state = State::settling;
      m_next_check = now + m_check_delay;
      // A push that looked before the registration and ended before this read is not in
      // the list, and its task is committed: claim for it now, not once the others end.
      return true;
    }
  }
  m_state = State::settled;
  SPDLOG_LOGGER_DEBUG(logger(), "idle: pushes notify this loop from now on");
  return true;
}

std::optional<IdleRegistration::Clock::time_point> IdleRegistration::next_check() const {
  if (m_state != State::settling) {
    return std::nullopt;
  }
  return m_next_check;
}

} // namespace pgtq::queue
