#include "queue/error_streak.hpp"

#include "queue/backoff.hpp"
#include "queue/queue_logger.hpp"

#include <spdlog/spdlog.h>

namespace pgtq::queue {

namespace {

// The same non-transient error this many turns in a row: the session is the problem (say, a
// read-only one, or one whose state broke), so it is replaced.
constexpr int k_reconnect_after_repeats = 3;
// Transient errors (serialization failures, lock timeouts) are retried at once; only a long
// run of them is taken as a sign that the session, not the moment, is wrong.
constexpr int k_reconnect_after_transient_repeats = 20;

} // namespace

std::optional<std::chrono::milliseconds>
ErrorStreak::on_error(const db::PgError& error, bool sessions_ok, DaemonState& state) {
  std::string signature = error.sqlstate() + " " + error.what();
  m_streak = signature == m_last ? m_streak + 1 : 1;
  m_last = std::move(signature);
  const int repeats_allowed =
      error.is_transient() ? k_reconnect_after_transient_repeats : k_reconnect_after_repeats;
  if (!sessions_ok || error.is_connection_error() || error.is_read_only() ||
      m_streak >= repeats_allowed) {
    if (state.db_connected.exchange(false) || !state.ready) {
      if (sessions_ok && !error.is_connection_error()) {
        logger()->warn("{}; reconnecting with backoff, running tasks go on", error.what());
      } else {
        logger()->warn("database unavailable: {}; retrying with backoff, running tasks go on",
                       error.what());
      }
    }
    m_streak = 0;
    return std::nullopt;
  }
  if (error.is_transient()) {
    // A serialization failure, deadlock or lock timeout: the next try will likely pass.
    SPDLOG_LOGGER_DEBUG(logger(), "retrying after: {}", error.what());
    return retry_delay(
        m_streak - 1, random01(), std::chrono::milliseconds(10), std::chrono::seconds(1));
  }
  logger()->error("{}", error.what());
  // A persistent error must not spin.
  return retry_delay(0, random01(), std::chrono::seconds(1));
}

} // namespace pgtq::queue
