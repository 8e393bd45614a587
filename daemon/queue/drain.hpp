#pragma once

#include "queue/daemon_state.hpp"
#include "queue/settings.hpp"

#include <chrono>
#include <utility>

namespace pgtq::queue {

// The claim loop's shutdown, as time goes by: from the first stop request (SIGTERM) no more
// claims, and the running tasks get the grace period to finish; at its end, or at a second
// stop request (state.cancel_now), what has not finished is stopped and released; finished
// attempts' outcomes get k_outcome_extra more to be recorded (plus stop_grace, where handlers
// told to stop get that long to return before their worker is killed and their task
// released). The claim loop's thread only (the state it reads is atomic).
class Drain {
public:
  using Clock = std::chrono::steady_clock;

  // After the grace period, how long finished attempts' outcomes may still take to be
  // recorded before pgtqd gives up on them (their tasks then run again).
  static constexpr Clock::duration k_outcome_extra = std::chrono::seconds(5);

  // stop_grace: isolation = process's timeout-grace; zero where nothing is killed.
  Drain(const DaemonState& state, Duration grace, Duration stop_grace = {})
      : m_state(state), m_grace(grace), m_extra(k_outcome_extra + stop_grace) {}

  // On the first stop request, starts the grace period and returns true; false otherwise.
  bool start_if_asked() {
    if (!m_state.drain || m_active) {
      return false;
    }
    m_active = true;
    m_deadline = Clock::now() + m_grace;
    return true;
  }
  bool active() const { return m_active; }
  Clock::time_point deadline() const { return m_deadline; }
  // The grace period is over (or was cut short): release what has not finished.
  bool grace_over(Clock::time_point now) const {
    return m_active && (m_state.cancel_now || now >= m_deadline);
  }
  // True the first time only: the release of unfinished tasks begins.
  bool first_release() { return !std::exchange(m_released, true); }
  // Outcomes not recorded by now are given up.
  bool give_up(Clock::time_point now) const {
    return m_state.cancel_now || now >= m_deadline + m_extra;
  }
  // The latest time a draining loop sleeps until: the end of the grace period, then the
  // end of the outcomes' extra moment.
  Clock::time_point next_step(Clock::time_point now) const {
    return now < m_deadline ? m_deadline : m_deadline + m_extra;
  }

private:
  const DaemonState& m_state;
  const Duration m_grace;
  const Clock::duration m_extra; // after the grace period, until outcomes are given up
  bool m_active = false;
  bool m_released = false;
  Clock::time_point m_deadline;
};

} // namespace pgtq::queue
