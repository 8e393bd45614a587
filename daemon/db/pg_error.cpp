#include "db/pg_error.hpp"

namespace pgtq::db {

PgError::PgError(std::string sqlstate, const std::string& message)
    : std::runtime_error(message), m_sqlstate(std::move(sqlstate)) {}

bool PgError::is_connection_error() const noexcept {
  // Empty: libpq failed before the server said anything (connection refused or lost).
  // 57P01..57P03: admin shutdown, crash shutdown, cannot connect now (server starting).
  return m_sqlstate.empty() || m_sqlstate.starts_with("08") || m_sqlstate == "57P01" ||
         m_sqlstate == "57P02" || m_sqlstate == "57P03";
}

bool PgError::is_transient() const noexcept {
  return m_sqlstate == "40001" || m_sqlstate == "40P01" || m_sqlstate == "55P03" ||
         m_sqlstate == "57014";
}

} // namespace pgtq::db
