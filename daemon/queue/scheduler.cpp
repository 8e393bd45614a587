#include "queue/scheduler.hpp"

#include "db/pg_error.hpp"
#include "db/queries.hpp"
#include "queue/backoff.hpp"
#include "queue/sessions.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace pgtq::queue {
namespace {

std::shared_ptr<spdlog::logger> logger() {
  auto found = spdlog::get("scheduler");
  return found ? found : spdlog::default_logger();
}

// How many rows one tick moves at most; a backlog is worked off over consecutive ticks.
constexpr int k_tick_batch = 10000;

} // namespace

Scheduler::Scheduler(const SchedulerSettings& config)
    : m_config(config),
      // Anyone may NOTIFY pgtq_scheduled: notifications may bring a tick forward, but not
      // more often than min_gap after the last tick.
      m_wake_up({.channel = "pgtq_scheduled",
                 .payload = std::nullopt, // whatever the payload
                 .poll_interval = config.interval,
                 .min_gap = std::max<Clock::duration>(Clock::duration(config.interval / 10),
                                                      std::chrono::milliseconds(50))}) {}

Scheduler::~Scheduler() {
  stop();
}

void Scheduler::start() {
  m_thread = std::thread([this] { run(); });
}

void Scheduler::stop() {
  m_stopping = true;
  m_wake_up.interrupt();
  if (m_thread.joinable()) {
    m_thread.join();
  }
}

void Scheduler::run() {
  RetryBackoff backoff;
  while (!m_stopping) {
    try {
      if (!m_connection) {
        m_connection.emplace(
            m_config.dsn, application_name(m_config, "schedule"), scheduler_session());
        m_connection->use_prepared_statements(m_config.prepared_statements);
        m_wake_up.listen(*m_connection);
        if (backoff.failures() > 0) {
          logger()->info("scheduler reconnected");
        }
      }
      const auto next = tick();
      backoff.reset();
      wait_until(next);
    } catch (const std::exception& error) {
      // Every failure is logged: a scheduler that does not tick rescues nothing. A new
      // session (the old one may be read-only, or broken) after a jittered backoff.
      const auto delay = backoff.next();
      logger()->error("scheduler tick failed: {}; next try in {:.1f} s",
                      error.what(),
                      std::chrono::duration<double>(delay).count());
      m_connection.reset();
      wait_until(Clock::now() + delay);
    }
  }
}

Scheduler::Clock::time_point Scheduler::tick() {
  const std::string batch = std::to_string(k_tick_batch);
  m_wake_up.hold_back(); // notifications taken from now on make the next tick
  db::Result result(nullptr);
  try {
    result = m_connection->run(db::queries::k_tick, {batch});
  } catch (const db::PgError& error) {
    // 22008: the next due time is 'infinity' or too far ahead for an interval. The tick
    // rolled back with it; tick without the due time, so that one row cannot stop the
    // promotion and rescue of every other.
    if (error.sqlstate() != "22008") {
      throw;
    }
    if (!m_due_out_of_range) {
      logger()->warn("the next scheduled task's due time is out of range ({}); ticking every "
                     "scheduler-interval",
                     error.what());
      m_due_out_of_range = true;
    }
    result = m_connection->run(db::queries::k_tick_without_due, {batch});
  }
  const auto promoted = result.int64(0, 0);
  const auto rescued = result.int64(0, 1);
  const auto failed = result.int64(0, 2);
  SPDLOG_LOGGER_DEBUG(
      logger(), "tick: {} promoted, {} rescued, {} failed", promoted, rescued, failed);
  if (promoted > 0) {
    SPDLOG_LOGGER_DEBUG(logger(), "{} scheduled task(s) due, queued", promoted);
  }
  if (rescued > 0 || failed > 0) {
    logger()->warn("rescued {} task(s) whose lease expired; {} of them had no attempts left and "
                   "failed",
                   rescued + failed,
                   failed);
  }
  // Jittered, so that the schedulers of many daemons do not tick in lockstep.
  auto next = m_wake_up.arm_poll();
  if (promoted + rescued + failed >= k_tick_batch) {
    return Clock::now(); // a backlog: go on at once
  }
  if (!result.is_null(0, 3) && !result.text(0, 3).empty()) {
    // strtod, not stod: "Infinity" or a huge value must not throw; clamped below.
    double due_in = std::strtod(result.string(0, 3).c_str(), nullptr);
    if (due_in <= 0 && promoted == 0) {
      // Due, yet this tick promoted nothing: another daemon's scheduler holds the tick lock
      // (or the row is locked). Look again shortly rather than spin on the database.
      due_in = std::chrono::duration<double>(m_config.interval).count() / 10;
    }
    // Clamped: a task due centuries ahead overflows a nanosecond clock.
    next = std::min(next, Clock::now() + to_clock_duration(due_in));
  }
  return next;
}

void Scheduler::wait_until(Clock::time_point deadline) {
  const auto left = [&] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  };
  if (!m_connection) {
    while (!m_stopping && left() > 0) {
      m_wake_up.sleep(deadline);
    }
    return;
  }
  // Notifications read along with the tick's result already sit in libpq's buffer, where
  // poll() cannot see them. A delayed task was pushed: tick soon, so that its due time is
  // seen; many notifications in a row make one tick, not one each.
  m_wake_up.take(*m_connection);
  while (!m_stopping && left() > 0) {
    if (!m_wake_up.wait(&*m_connection, deadline)) {
      return;
    }
  }
}

} // namespace pgtq::queue
