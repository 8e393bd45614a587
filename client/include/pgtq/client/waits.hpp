#pragma once

// Waiting for a task to end: pgtq::wait_for_task returns a task's state and result once it
// has ended, woken by a notification (pgtq_ended), never by polling; pgtq::task_status reads
// it now. Over pgtq.watch_task, pgtq.task_status and pgtq.unwatch_task
// (sql/schema/19_task_waits.sql), whose header says why no end is missed.
//
//   const std::int64_t id = pgtq::push(conn, "images", "resize", pgtq::json(R"({"w": 64})"));
//   const auto status = pgtq::wait_for_task(conn, id, std::chrono::seconds(30));
//   if (status && status->state == "succeeded") {
//     use(status->result->text());                  // the handler's result, JSON text
//   }
//
// Thread rules: as for every client function, one thread at a time per PGconn.

#include "pgtq/client/error.hpp"
#include "pgtq/client/json.hpp"
#include "pgtq/client/statement.hpp"

#include <poll.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>

namespace pgtq {

// A task as it is at one moment (pgtq.task_status).
struct TaskStatus {
  std::string state; // queued, scheduled, running; or ended: succeeded, failed, cancelled
  std::optional<JsonText> result;         // what a succeeded task's handler returned
  std::optional<std::string> last_error;  // the latest attempt's error, if any
  int attempts = 0;                       // attempts started
  std::optional<std::string> finished_at; // as PostgreSQL prints a timestamptz; unset while live

  bool ended() const noexcept {
    return state == "succeeded" || state == "failed" || state == "cancelled";
  }
};

namespace detail {

inline std::optional<TaskStatus> status_row(const PGresult* result) {
  if (PQntuples(result) == 0) {
    return std::nullopt;
  }
  TaskStatus status;
  status.state = optional_text_at(result, 0, 0).value_or("");
  if (std::optional<std::string> result_text = optional_text_at(result, 0, 1)) {
    status.result = JsonAccess::make(std::move(*result_text));
  }
  status.last_error = optional_text_at(result, 0, 2);
  status.attempts = static_cast<int>(int64_at(result, 0, 3));
  status.finished_at = optional_text_at(result, 0, 4);
  return status;
}

// Takes back, at the end of a wait, what it set up on the caller's connection: the
// registration and the LISTEN. Best effort: a broken connection has neither any more.
class WaitRegistration {
public:
  WaitRegistration(PGconn* conn, std::string id) : m_conn(conn), m_id(std::move(id)) {}
  WaitRegistration(const WaitRegistration&) = delete;
  WaitRegistration& operator=(const WaitRegistration&) = delete;
  ~WaitRegistration() {
    if (PQstatus(m_conn) != CONNECTION_OK || PQtransactionStatus(m_conn) != PQTRANS_IDLE) {
      return;
    }
    const char* values[] = {m_id.c_str()};
    PQclear(PQexecParams(
        m_conn, "SELECT pgtq.unwatch_task($1::bigint)", 1, nullptr, values, nullptr, nullptr, 0));
    PQclear(PQexec(m_conn, "UNLISTEN pgtq_ended"));
  }

private:
  PGconn* m_conn;
  std::string m_id;
};

// Takes the notifications libpq has read so far; true when one says that task id (payload:
// its id) or any task (empty payload) ended. Notifications of other channels are dropped.
inline bool ended_notification(PGconn* conn, const std::string& id) {
  bool seen = false;
  while (PGnotify* notification = PQnotifies(conn)) {
    if (std::strcmp(notification->relname, "pgtq_ended") == 0 &&
        (notification->extra[0] == '\0' || id == notification->extra)) {
      seen = true;
    }
    PQfreemem(notification);
  }
  return seen;
}

// Notifications arrive, and task_status's row lock ends, only between transactions.
inline void require_no_transaction(PGconn* conn, const char* what) {
  require_connection(conn, what);
  if (PQtransactionStatus(conn) != PQTRANS_IDLE) {
    throw Error("25001",
                std::string(what) +
                    ": the connection is inside a transaction; call it between transactions "
                    "(read pgtq.tasks inside one)");
  }
}

} // namespace detail

// Task task_id as it is now; unset when no task has that id (never pushed, deleted, or removed
// by retention). Waits for a transaction that is ending or deleting the task, and locks its
// row for that one statement, so it must run on the primary, outside a transaction
// (pgtq::Error 25001 otherwise, before anything is sent), in READ COMMITTED (25000 from the
// server otherwise). Throws pgtq::Error.
inline std::optional<TaskStatus> task_status(PGconn* conn, std::int64_t task_id) {
  detail::require_no_transaction(conn, "pgtq::task_status");
  const detail::ResultPtr result =
      detail::exec(conn,
                   "pgtq.task_status",
                   "SELECT state, result, last_error, attempts, finished_at"
                   " FROM pgtq.task_status($1::bigint)",
                   {std::to_string(task_id)});
  return detail::status_row(result.get());
}

// Waits up to timeout (0 or more) for task task_id to end, and returns it: ended() when it
// ended in time, still live when the timeout came first; unset when no task has that id (or
// it was deleted meanwhile). Sleeps on the connection's socket until a notification says the
// task ended, so a result arrives within a round trip of its end.
//
// The connection must be outside a transaction (notifications arrive only between
// transactions): otherwise pgtq::Error 25001 before anything is sent; on the primary, in READ
// COMMITTED, as for task_status. The wait LISTENs on pgtq_ended and UNLISTENs when it returns;
// notifications of other channels that arrive meanwhile are dropped, so wait on a connection
// that LISTENs to nothing else. A timeout of 100 years or more waits forever. A negative
// timeout: pgtq::Error 22023. Other failures (a lost connection): pgtq::Error with the
// server's or libpq's SQLSTATE.
inline std::optional<TaskStatus>
wait_for_task(PGconn* conn, std::int64_t task_id, std::chrono::milliseconds timeout) {
  constexpr const char* what = "pgtq::wait_for_task";
  detail::require_connection(conn, what);
  if (timeout.count() < 0) {
    throw Error("22023",
                std::string(what) + ": timeout must not be negative, got " +
                    std::to_string(timeout.count()) + " ms");
  }
  detail::require_no_transaction(conn, what);
  // Longer is forever; beyond a few centuries the clock's sum would overflow.
  constexpr std::chrono::milliseconds k_forever = std::chrono::hours(24 * 365 * 100);
  const auto deadline = std::chrono::steady_clock::now() + std::min(timeout, k_forever);
  const std::string id = std::to_string(task_id);
  detail::exec(conn, what, "LISTEN pgtq_ended", {});
  detail::WaitRegistration registration(conn, id);
  detail::exec(conn, what, "SELECT pgtq.watch_task($1::bigint)", {id});
  for (;;) {
    std::optional<TaskStatus> status = task_status(conn, task_id);
    if (!status || status->ended()) {
      return status;
    }
    // Until a notification about the task, or the deadline.
    bool woken = detail::ended_notification(conn, id);
    while (!woken) {
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) {
        return status;
      }
      if (PQsocket(conn) < 0) {
        throw Error("08006", std::string(what) + ": the connection has no socket");
      }
      pollfd socket{PQsocket(conn), POLLIN, 0};
      const int ready = ::poll(
          &socket, 1, static_cast<int>(std::min<std::int64_t>(left.count() + 1, 24 * 3600 * 1000)));
      if (ready < 0 && errno != EINTR) {
        throw Error("08006", std::string(what) + ": poll: " + std::strerror(errno));
      }
      if (ready > 0 && PQconsumeInput(conn) == 0) {
        throw Error("08006", std::string(what) + ": " + detail::trimmed(PQerrorMessage(conn)));
      }
      woken = detail::ended_notification(conn, id);
    }
  }
}

} // namespace pgtq
