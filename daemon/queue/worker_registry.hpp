#pragma once

#include "db/connection.hpp"
#include "queue/settings.hpp"

#include <chrono>
#include <mutex>
#include <string>

namespace pgtq::queue {

// This pgtqd's row in the registry of workers (pgtq.workers, sql/schema/13_workers.sql):
// written at most once a second, at the lease keeper's heartbeats, so that operators see
// which daemons are alive, where and how they run; removed when the daemon stops cleanly.
// A registry that cannot be written (a role without the right, a schema older than 0020)
// never stops leases: the lease keeper logs it and goes on.
//
// The row also names the session the beats run on, with the session grace: once that session
// has been gone for the grace, other daemons' schedulers rescue this daemon's tasks
// (pgtq.sweep_gone_workers). After new_session() the next beat writes at once, so that the
// row names the new session as soon as it exists.
//
// Threads: the lease keeper's renewing thread, or its owner once that thread has ended.
class WorkerRegistry {
public:
  explicit WorkerRegistry(const LeaseKeeperSettings& config);

  // Writes the row when the last write is a second old or more, or the task names changed.
  // Throws db::PgError.
  void beat(db::Connection& connection);
  // The task names this pgtqd's plugins handle now, as a text[] literal; from any thread (the
  // claim loop, at start and after a reload). The next beat writes them.
  void set_task_names(std::string names);
  // Removes the row; errors are logged, not thrown (the daemon is stopping).
  void leave(db::Connection& connection) noexcept;
  // The session the beats ran on has ended: the row names it until the next beat.
  void new_session() { m_names_session = false; }
  // Whether the row names the current session, and others may rescue this daemon's tasks
  // early once it is gone (the grace is shorter than the lease).
  bool names_session() const { return m_names_session; }
  bool rescued_early() const { return !m_grace.empty(); }
  // Whether the row was ever written (it may name a session of this pgtqd).
  bool written() const { return m_written; }

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
  std::string m_grace;      // the session grace, as text; empty: never rescued early (NULL)
  Clock::time_point m_last{};
  bool m_written = false;
  bool m_names_session = false; // the last write came from the current session
  std::mutex m_names_mutex;
  std::string m_task_names;     // guarded by m_names_mutex; empty: not known yet (NULL)
  bool m_names_changed = false; // guarded by m_names_mutex
};

} // namespace pgtq::queue
