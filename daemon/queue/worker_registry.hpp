#pragma once

#include "db/connection.hpp"
#include "queue/settings.hpp"

#include <chrono>
#include <string>

namespace pgtq::queue {

// This pgtqd's row in the registry of workers (pgtq.workers, sql/schema/13_workers.sql):
// written at most once a second, at the lease keeper's heartbeats, so that operators see
// which daemons are alive, where and how they run; removed when the daemon stops cleanly.
// A registry that cannot be written (a role without the right, a schema older than 0020)
// never stops leases: the lease keeper logs it and goes on.
//
// Threads: the lease keeper's renewing thread, or its owner once that thread has ended.
class WorkerRegistry {
public:
  explicit WorkerRegistry(const LeaseKeeperSettings& config);

  // Writes the row when the last write is a second old or more. Throws db::PgError.
  void beat(db::Connection& connection);
  // Removes the row; errors are logged, not thrown (the daemon is stopping).
  void leave(db::Connection& connection) noexcept;

private:
  using Clock = std::chrono::steady_clock;

  std::string m_worker;
  std::string m_queue;
  std::string m_host;
  std::string m_pid;
  std::string m_version;
  std::string m_concurrency;
  std::string m_isolation;
  std::string m_every; // the interval between writes, as text
  Clock::duration m_interval;
  std::string m_started_at; // when this object was made, as text
  Clock::time_point m_last{};
  bool m_written = false;
};

} // namespace pgtq::queue
