#include "queue/worker_registry.hpp"

#include "db/pg_error.hpp"
#include "db/queries.hpp"
#include "queue/queue_logger.hpp"

#include <pgtq/client/statement.hpp>

#include <spdlog/spdlog.h>

#include <unistd.h>

#include <algorithm>

namespace pgtq::queue {

WorkerRegistry::WorkerRegistry(const LeaseKeeperSettings& config)
    : m_worker(config.worker_name), m_queue(config.queue), m_host(config.identity.host),
      m_pid(std::to_string(::getpid())), m_version(config.identity.version),
      m_concurrency(std::to_string(config.identity.concurrency)),
      m_isolation(config.identity.processes ? "process" : "thread"),
      // At most once a second, however short the heartbeat: the row is for people.
      m_interval(std::max<Clock::duration>(config.heartbeat, std::chrono::seconds(1))),
      m_started_at(Timestamp(std::chrono::system_clock::now()).text()) {
  m_every = pgtq::detail::interval_text(
      std::chrono::duration_cast<std::chrono::microseconds>(m_interval));
  // A grace as long as the lease gains nothing: the leases run out by then anyway. Behind a
  // transaction pooler the session is a pooled backend, whose end says nothing about pgtqd.
  if (config.session_grace < config.lease && config.prepared_statements) {
    m_grace = pgtq::detail::interval_text(
        std::chrono::duration_cast<std::chrono::microseconds>(config.session_grace));
  }
}

void WorkerRegistry::set_task_names(std::string names) {
  const std::lock_guard lock(m_names_mutex);
  if (names != m_task_names) {
    m_task_names = std::move(names);
    m_names_changed = true;
  }
}

void WorkerRegistry::beat(db::Connection& connection) {
  const auto now = Clock::now();
  std::string names;
  {
    const std::lock_guard lock(m_names_mutex);
    if (m_names_session && now - m_last < m_interval && !m_names_changed) {
      return;
    }
    names = m_task_names;
    m_names_changed = false;
  }
  connection.run(db::queries::k_worker_seen,
                 {m_worker,
                  m_queue,
                  m_host,
                  m_pid,
                  m_version,
                  m_concurrency,
                  m_isolation,
                  m_every,
                  m_started_at,
                  names.empty() ? std::nullopt : db::Param(names),
                  m_grace.empty() ? std::nullopt : db::Param(m_grace)});
  m_last = now;
  m_written = true;
  m_names_session = true;
}

void WorkerRegistry::leave(db::Connection& connection) noexcept {
  if (!m_written) {
    return;
  }
  try {
    connection.run(db::queries::k_worker_stopped, {m_worker, m_queue});
  } catch (const std::exception& error) {
    logger()->warn("cannot remove this worker from pgtq.workers: {}", error.what());
  }
}

} // namespace pgtq::queue
