#include "queue/idle_registration.hpp"

#include "db/queries.hpp"
#include "queue/queue_logger.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace pgtq::queue {

void IdleRegistration::reset() {
  m_state = State::unregistered;
  m_full_since.reset();
}

void IdleRegistration::on_claim(bool full, Clock::time_point now) {
  if (!full) {
    m_full_since.reset();
  } else if (!m_full_since) {
    m_full_since = now;
  }
}

bool IdleRegistration::pushes_ended(db::Connection& connection, bool first) {
  const db::Result rows =
      connection.run(db::queries::k_pushes_in_flight,
                     {m_queue, first ? db::Param() : db::Param(m_in_flight)});
  m_in_flight = rows.string(0, 0);
  return m_in_flight == "{}";
}

bool IdleRegistration::update(db::Connection& connection, bool idle, Clock::time_point now) {
  if (!idle) {
    if (m_state != State::unregistered && m_full_since && now - *m_full_since >= k_busy_after) {
      connection.run(db::queries::k_worker_busy, {m_queue});
      m_state = State::unregistered;
      SPDLOG_LOGGER_DEBUG(logger(), "busy: pushes no longer notify this loop");
    }
    return false;
  }
  switch (m_state) {
  case State::unregistered:
    // Committed before pushes_in_flight() looks: a push that looks for it later sees it.
    connection.run(db::queries::k_worker_idle, {m_queue, m_worker});
    m_check_delay = std::chrono::milliseconds(1);
    if (!pushes_ended(connection, true)) {
      m_state = State::settling;
      m_next_check = now + m_check_delay;
      return false;
    }
    break;
  case State::settling:
    if (now < m_next_check) {
      return false;
    }
    if (!pushes_ended(connection, false)) {
      m_check_delay = std::min(m_check_delay * 2, k_max_check_delay);
      m_next_check = now + m_check_delay;
      return false;
    }
    break;
  case State::settled:
    return false;
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
