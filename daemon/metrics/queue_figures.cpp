#include "metrics/queue_figures.hpp"

#include "db/pg_error.hpp"
#include "db/queries.hpp"

#include <spdlog/spdlog.h>

#include <cstdlib>

namespace pgtq::metrics {

QueueFigures::Reading QueueFigures::read() {
  const auto now = Clock::now();
  // A failed query is not retried at every scrape either: the database may be struggling.
  if (!m_tried_at || now - *m_tried_at >= m_settings.ttl) {
    m_tried_at = now;
    try {
      if (!m_connection || !m_connection->is_ok()) {
        m_connection.reset();
        // Bounded, so that a locked catalog or a slow server cannot hang the endpoint.
        m_connection.emplace(m_settings.dsn,
                             m_settings.application_name,
                             db::SessionSettings{.read_committed = true,
                                                 .lock_timeout = std::chrono::seconds(1),
                                                 .statement_timeout = std::chrono::seconds(5)});
        m_connection->use_prepared_statements(m_settings.prepared_statements);
      }
      const db::Result rows = m_connection->run(db::queries::k_metrics_queue_figures, {});
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
      m_queues = std::move(queues);
      m_read_at = now;
      m_ok = true;
      if (m_warned) {
        spdlog::info("metrics: the queue figures are read from the database again");
        m_warned = false;
      }
    } catch (const db::PgError& error) {
      m_ok = false;
      if (error.is_connection_error()) {
        m_connection.reset();
      }
      if (!m_warned) {
        spdlog::warn("metrics: cannot read the queue figures ({}); pgtq_database_up is 0 "
                     "until they can be read",
                     error.what());
        m_warned = true;
      }
    }
  }
  Reading reading;
  reading.queues = m_queues;
  reading.ok = m_ok;
  reading.age_s = m_read_at ? std::chrono::duration<double>(now - *m_read_at).count() : 0;
  return reading;
}

} // namespace pgtq::metrics
