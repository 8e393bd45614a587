#include "queue/scheduler.hpp"

#include "db/pg_error.hpp"
#include "db/queries.hpp"

#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <random>
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

Scheduler::Scheduler(const app::Config& config) : m_config(config) {
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
  auto retry_delay = std::chrono::milliseconds(250);
  bool healthy = true;
  while (!m_stopping) {
    try {
      if (!m_connection) {
        m_connection.emplace(m_config.dsn, "pgtqd-scheduler");
        m_connection->use_prepared_statements(m_config.prepared_statements);
        m_connection->listen("pgtq_scheduled");
        if (!healthy) {
          logger()->info("scheduler reconnected");
        }
        healthy = true;
        retry_delay = std::chrono::milliseconds(250);
      }
      wait_until(tick());
    } catch (const std::exception& error) {
      if (healthy) {
        logger()->warn("scheduler: {}; retrying with backoff", error.what());
      }
      healthy = false;
      m_connection.reset();
      wait_until(Clock::now() + retry_delay);
      retry_delay = std::min(retry_delay * 2, std::chrono::milliseconds(30000));
    }
  }
}

Scheduler::Clock::time_point Scheduler::tick() {
  const std::string batch = std::to_string(k_tick_batch);
  const db::Result result = m_connection->run(db::queries::k_tick, {batch});
  const auto promoted = result.int64(0, 0);
  const auto rescued = result.int64(0, 1);
  const auto failed = result.int64(0, 2);
  if (promoted > 0) {
    SPDLOG_LOGGER_DEBUG(logger(), "{} scheduled task(s) due, queued", promoted);
  }
  if (rescued > 0 || failed > 0) {
    logger()->warn("rescued {} task(s) whose lease expired; {} of them had no attempts left and "
                   "failed", rescued + failed, failed);
  }
  // Jitter keeps the schedulers of many daemons from ticking in lockstep.
  thread_local std::mt19937 generator{std::random_device{}()};
  const double jitter = std::uniform_real_distribution<double>(0.9, 1.1)(generator);
  auto next = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                 m_config.scheduler_interval * jitter);
  if (promoted + rescued + failed >= k_tick_batch) {
    return Clock::now(); // a backlog: go on at once
  }
  if (!result.is_null(0, 3)) {
    double due_in = std::max(0.0, result.text(0, 3).empty() ? 0.0 : std::stod(result.string(0, 3)));
    if (due_in <= 0 && promoted == 0) {
      // Due, yet this tick promoted nothing: another daemon's scheduler holds the tick lock
      // (or the row is locked). Look again shortly rather than spin on the database.
      due_in = m_config.scheduler_interval.count() / 10;
    }
    next = std::min(next, Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                             std::chrono::duration<double>(due_in)));
  }
  return next;
}

void Scheduler::wait_until(Clock::time_point deadline) {
  // Notifications read along with the tick's result already sit in libpq's buffer, where
  // poll() cannot see them.
  if (m_connection && !m_connection->take_notifications().empty()) {
    return;
  }
  while (!m_stopping) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) {
      return;
    }
    pollfd fds[2] = {{m_wake_fd, POLLIN, 0}, {m_connection ? m_connection->socket() : -1, POLLIN, 0}};
    const int ready = ::poll(fds, m_connection ? 2 : 1, static_cast<int>(left + 1));
    if (ready < 0 && errno != EINTR) {
      throw std::system_error(errno, std::generic_category(), "poll");
    }
    if (m_connection && (fds[1].revents & (POLLIN | POLLERR | POLLHUP))) {
      // A delayed task was pushed: tick now, so that its due time is seen.
      if (!m_connection->take_notifications().empty()) {
        return;
      }
    }
  }
}

} // namespace pgtq::queue
