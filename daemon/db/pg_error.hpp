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
  bool is_retryable() const noexcept;

private:
  std::string m_sqlstate;
};

} // namespace pgtq::db
