#include "queue/scheduler.hpp"

#include "db/pg_error.hpp"
#include "db/queries.hpp"
#include "queue/backoff.hpp"
#include "queue/sessions.hpp"

#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <system_error>

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
      // more often than this.
      m_min_notified_gap(std::max<Clock::duration>(
          Clock::duration(config.interval / 10), std::chrono::milliseconds(50))) {
  m_wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (m_wake_fd < 0) {
    throw std::system_error(errno, std::generic_category(), "eventfd");
  }
}

Scheduler::~Scheduler() {
  stop();
  ::close(m_wake_fd);
}

void Scheduler::start() {
  m_thread = std::thread([this] { run(); });
}

void Scheduler::stop() {
  m_stopping = true;
  const std::uint64_t one = 1;
  [[maybe_unused]] const auto written = ::write(m_wake_fd, &one, sizeof one);
  if (m_thread.joinable()) {
    m_thread.join();
  }
}

void Scheduler::run() {
  RetryBackoff backoff;
  while (!m_stopping) {
    try {
      if (!m_connection) {
        m_connection.emplace(m_config.dsn, application_name(m_config, "schedule"),
                             scheduler_session());
        m_connection->use_prepared_statements(m_config.prepared_statements);
        m_connection->listen("pgtq_scheduled");
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
      logger()->error("scheduler tick failed: {}; next try in {:.1f} s", error.what(),
                      std::chrono::duration<double>(delay).count());
      m_connection.reset();
      wait_until(Clock::now() + delay);
    }
  }
}

Scheduler::Clock::time_point Scheduler::tick() {
  const std::string batch = std::to_string(k_tick_batch);
  m_last_tick = Clock::now();
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
                     "scheduler-interval", error.what());
      m_due_out_of_range = true;
    }
    result = m_connection->run(db::queries::k_tick_without_due, {batch});
  }
  const auto promoted = result.int64(0, 0);
  const auto rescued = result.int64(0, 1);
  const auto failed = result.int64(0, 2);
  SPDLOG_LOGGER_DEBUG(logger(), "tick: {} promoted, {} rescued, {} failed", promoted, rescued,
                      failed);
  if (promoted > 0) {
    SPDLOG_LOGGER_DEBUG(logger(), "{} scheduled task(s) due, queued", promoted);
  }
  if (rescued > 0 || failed > 0) {
    logger()->warn("rescued {} task(s) whose lease expired; {} of them had no attempts left and "
                   "failed", rescued + failed, failed);
  }
  // Jitter keeps the schedulers of many daemons from ticking in lockstep.
  auto next = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                 m_config.interval * (0.9 + 0.2 * random01()));
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
  // Notifications read along with the tick's result already sit in libpq's buffer, where
  // poll() cannot see them.
  if (m_connection && !m_connection->take_notifications().empty()) {
    deadline = std::min(deadline, m_last_tick + m_min_notified_gap);
  }
  while (!m_stopping) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) {
      return;
    }
    pollfd fds[2] = {{m_wake_fd, POLLIN, 0}, {m_connection ? m_connection->socket() : -1, POLLIN, 0}};
    // A failed poll (EINTR) only ends this round of the wait early.
    ::poll(fds, m_connection ? 2 : 1, static_cast<int>(std::min<long long>(left + 1, 60000)));
    if (m_connection && (fds[1].revents & (POLLIN | POLLERR | POLLHUP))) {
      // A delayed task was pushed: tick soon, so that its due time is seen; many
      // notifications in a row make one tick, not one each.
      if (!m_connection->take_notifications().empty()) {
        deadline = std::min(deadline, m_last_tick + m_min_notified_gap);
      }
    }
  }
}

} // namespace pgtq::queue
