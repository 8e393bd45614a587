#include "metrics/queue_figures.hpp"

#include "db/pg_error.hpp"
#include "db/queries.hpp"

#include <spdlog/spdlog.h>

#include <cstdlib>

namespace pgtq::metrics {

QueueFigures::QueueFigures(Settings settings)
    : m_settings(std::move(settings)), m_thread([this] { run(); }) {}

QueueFigures::~QueueFigures() {
  {
    const std::lock_guard lock(m_mutex);
    m_stopping = true;
  }
  m_changed.notify_all();
  m_thread.join();
}

QueueFigures::Reading QueueFigures::read() {
  std::unique_lock lock(m_mutex);
  const auto asked = Clock::now();
  if (!m_read_at || asked - *m_read_at >= m_settings.ttl) {
    m_wanted = true;
    m_changed.notify_all();
    m_changed.wait_until(lock, asked + k_scrape_wait, [&] {
      return m_stopping || (m_read_at && *m_read_at >= asked);
    });
  }
  Reading reading;
  reading.ok = m_ok;
  if (m_ok) {
    reading.queues = m_queues;
    reading.age_s = std::chrono::duration<double>(Clock::now() - *m_queries_at).count();
  }
  // A refresh still running when the wait ended reads as a failure until it is done: the
  // figures it would replace may be long out of date.
  if (m_wanted) {
    reading.ok = false;
    reading.queues.clear();
  }
  return reading;
}

void QueueFigures::run() {
  std::unique_lock lock(m_mutex);
  for (;;) {
    m_changed.wait(lock, [&] { return m_stopping || m_wanted; });
    if (m_stopping) {
      return;
    }
    lock.unlock();
    auto queues = query();
    lock.lock();
    const auto now = Clock::now();
    m_read_at = now;
    m_ok = queues.has_value();
    if (queues) {
      m_queues = std::move(*queues);
      m_queries_at = now;
    }
    m_wanted = false;
    m_changed.notify_all();
  }
}

std::optional<std::vector<QueueFigure>> QueueFigures::query() {
  // Once more at once after a lost connection: a database restart costs one failed scrape
  // at most, not a ttl of them.
  for (int attempt = 0; attempt < 2; ++attempt) {
    try {
      if (!m_connection || !m_connection->is_ok()) {
        m_connection.reset();
        m_connection.emplace(m_settings.dsn,
                             m_settings.application_name,
                             db::SessionSettings{.read_committed = true});
        m_connection->use_prepared_statements(m_settings.prepared_statements);
      }
      m_connection->run(db::queries::k_begin, {});
      // Bounded, so that a lock held on a table it reads cannot hold the reader for long.
      m_connection->run(db::queries::k_metrics_local_timeouts, {});
      const db::Result rows = m_connection->run(db::queries::k_metrics_queue_figures, {});
      m_connection->run(db::queries::k_commit, {});
      std::vector<QueueFigure> queues;
      for (int row = 0; row < rows.rows(); ++row) {
        queues.push_back({.queue = rows.string(row, 0),
                          .queued = rows.int64(row, 1),
                          .scheduled = rows.int64(row, 2),
                          .running = rows.int64(row, 3),
                          .pending = rows.int64(row, 4),
                          .oldest_queued_age_s = std::strtod(rows.string(row, 5).c_str(), nullptr),
                          .workers = rows.int64(row, 6),
                          .worker_slots = rows.int64(row, 7),
                          .paused = rows.text(row, 8) == "t"});
      }
      if (m_warned) {
        spdlog::info("metrics: the queue figures are read from the database again");
        m_warned = false;
      }
      return queues;
    } catch (const std::exception& error) {
      const auto* pg = dynamic_cast<const db::PgError*>(&error);
      const bool lost = pg == nullptr || pg->is_connection_error();
      if (!lost) {
        try {
          m_connection->run(db::queries::k_rollback, {});
        } catch (const std::exception&) {
          m_connection.reset();
        }
      } else {
        m_connection.reset();
      }
      if (lost && attempt == 0) {
        continue;
      }
      if (!m_warned) {
        spdlog::warn("metrics: cannot read the queue figures ({}); pgtq_database_up is 0 and "
                     "the pgtq_queue_* figures are left out until they can be read",
                     error.what());
        m_warned = true;
      }
    }
  }
  return std::nullopt;
}

} // namespace pgtq::metrics
