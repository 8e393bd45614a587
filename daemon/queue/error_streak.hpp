#pragma once

#include "db/pg_error.hpp"
#include "queue/daemon_state.hpp"

#include <chrono>
#include <optional>
#include <string>

namespace pgtq::queue {

// The claim loop's error policy: what to do about an error of one turn. Transient errors
// (serialization failures, deadlocks, lock timeouts) are retried at once, with a short
// backoff; another error is logged and retried after about a second, so that it cannot
// spin. The same error turn after turn means the session is the problem (say, a read-only
// one, or one whose state broke), so it is replaced; so is a session whose connection
// failed; the first such error since the sessions were opened is logged as a warning (and
// clears state.db_connected). The claim loop's thread only.
class ErrorStreak {
public:
  // How long to wait before the next turn on the same sessions, or nothing: reconnect.
  // sessions_ok: both sessions are still connected.
  std::optional<std::chrono::milliseconds>
  on_error(const db::PgError& error, bool sessions_ok, DaemonState& state);
  // A turn went through.
  void reset() { m_streak = 0; }

private:
  std::string m_last; // SQLSTATE and message of the last error
  int m_streak = 0;   // how many turns in a row failed with it
};

} // namespace pgtq::queue
