#pragma once

#include <stdexcept>
#include <string>

namespace pgtq::db {

// An error reported by libpq or the server. Carries the SQLSTATE so that callers can
// classify it: class 08 means the connection is gone (reconnect with backoff), 40001 and
// 40P01 are worth retrying, anything else is a real error.
class PgError : public std::runtime_error {
public:
  PgError(std::string sqlstate, const std::string& message);

  const std::string& sqlstate() const noexcept { return m_sqlstate; }
  // The connection is unusable (lost, refused, admin shutdown): reconnect and carry on.
  bool is_connection_error() const noexcept;
  // Worth trying again in a moment on the same connection, and never the task's fault:
  // serialization failure (40001), deadlock (40P01), lock_timeout (55P03) and
  // statement_timeout or a cancel request (57014).
  bool is_transient() const noexcept;
  // This session cannot write (25006: read-only transaction), as after a failover onto a
  // standby or with default_transaction_read_only on: only a new session can fix it.
  bool is_read_only() const noexcept { return m_sqlstate == "25006"; }

private:
  std::string m_sqlstate;
};

} // namespace pgtq::db
