#pragma once

// Working tasks from any process ("pop"): the claim/heartbeat/finish protocol pgtqd uses,
// as thin wrappers over the functions of sql/schema/04_claim.sql and 05_outcomes.sql (limits
// and errors: 02_names_and_limits.sql).
//
// Call these outside an explicit transaction (or commit right after): a claim holds the
// tasks' row locks until its transaction ends, and an outcome is only durable once committed.
// Outside a transaction each call runs in its own READ COMMITTED transaction, whatever the
// database's default_transaction_isolation (the protocol is built for READ COMMITTED: under
// SERIALIZABLE, workers racing for the queue head fail each other), and a serialization
// failure or deadlock (40001, 40P01) is retried up to 5 times after a short random pause.
// Inside the caller's transaction the call runs as it is, under the caller's isolation level,
// and such an error is the caller's to handle.

#include "pgtq/client/error.hpp"
#include "pgtq/client/json.hpp"
#include "pgtq/client/pg_array.hpp"
#include "pgtq/client/statement.hpp"

#include <libpq-fe.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

namespace pgtq {
namespace detail {

// A parameter as an SQL literal ('it''s', NULL), quoted by libpq for this connection.
inline std::string sql_literal(PGconn* conn, std::string_view what, const Param& value) {
  if (!value) {
    return "NULL";
  }
  const std::unique_ptr<char, decltype(&PQfreemem)> quoted(
      PQescapeLiteral(conn, value->data(), value->size()), &PQfreemem);
  if (quoted == nullptr) {
    throw Error("22021", std::string(what) + ": " + trimmed(PQerrorMessage(conn)));
  }
  return quoted.get();
}

// Runs one protocol statement (its $1, $2, … replaced by params as literals). Outside a
// transaction it is sent as "BEGIN ISOLATION LEVEL READ COMMITTED; statement; COMMIT" in one
// round trip and retried on 40001/40P01; inside one, as it is. Returns the statement's rows.
inline ResultPtr run_protocol(PGconn* conn,
                              std::string_view what,
                              const std::string& sql,
                              const std::vector<Param>& params) {
  require_connection(conn, what);
  std::string statement;
  for (std::size_t i = 0; i < sql.size(); ++i) {
    if (sql[i] == '$' && i + 1 < sql.size() && sql[i + 1] >= '1' && sql[i + 1] <= '9') {
      statement += sql_literal(conn, what, params.at(static_cast<std::size_t>(sql[i + 1] - '1')));
      ++i;
    } else {
      statement += sql[i];
    }
  }
  if (PQtransactionStatus(conn) != PQTRANS_IDLE) {
    return exec(conn, what, statement, {});
  }
  const std::string batch = "BEGIN ISOLATION LEVEL READ COMMITTED; " + statement + "; COMMIT";
  constexpr int k_attempts = 5;
  for (int attempt = 1;; ++attempt) {
    if (PQsendQuery(conn, batch.c_str()) == 0) {
      checked(conn, what, ResultPtr(nullptr, &PQclear));
    }
    // Three results (BEGIN, the statement, COMMIT); after an error the rest are skipped.
    ResultPtr rows(nullptr, &PQclear);
    ResultPtr failure(nullptr, &PQclear);
    int index = 0;
    for (PGresult* next = PQgetResult(conn); next != nullptr; next = PQgetResult(conn), ++index) {
      ResultPtr result(next, &PQclear);
      const ExecStatusType status = PQresultStatus(next);
      if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
        if (failure == nullptr) {
          failure = std::move(result);
        }
      } else if (index == 1) {
        rows = std::move(result);
      }
    }
    if (failure == nullptr && rows != nullptr) {
      return rows;
    }
    if (PQtransactionStatus(conn) == PQTRANS_INERROR ||
        PQtransactionStatus(conn) == PQTRANS_INTRANS) {
      ResultPtr(PQexec(conn, "ROLLBACK"), &PQclear);
    }
    const char* state =
        failure == nullptr ? nullptr : PQresultErrorField(failure.get(), PG_DIAG_SQLSTATE);
    const std::string sqlstate = state == nullptr ? "" : state;
    if ((sqlstate == "40001" || sqlstate == "40P01") && attempt < k_attempts) {
      thread_local std::minstd_rand random(std::random_device{}());
      std::uniform_int_distribution<int> pause_ms(1, 10 * attempt);
      std::this_thread::sleep_for(std::chrono::milliseconds(pause_ms(random)));
      continue;
    }
    checked(conn, what, std::move(failure));
    throw Error("XX000", std::string(what) + ": the server sent no result for the statement");
  }
}

} // namespace detail

// A task handed to this worker. (id, claim) is the fencing token every later call presents:
// once the lease has expired and the task was rescued or claimed again, the token matches
// nothing, and the late call reports false instead of overwriting the newer outcome.
struct ClaimedTask {
  std::int64_t id = 0;
  std::int64_t claim = 0; // random token of this claim; quote it in every later call
  std::string task;
  std::string args_json;
  int attempt = 0; // 1 on the first run
  int max_attempts = 0;
  // How long this attempt may run, as given at push (PushOptions::timeout); none when the push
  // gave none. A program working tasks itself enforces it (pgtqd does for its own).
  std::optional<std::chrono::microseconds> timeout;
  // The tasks it depends on (PushOptions::depends_on) as pgtq.task_parents gives them: a JSON
  // array of {"id", "task", "state", "result"}; none for a task pushed without.
  std::optional<std::string> parents_json;
  // What an earlier attempt saved with report(); none when none did.
  std::optional<std::string> checkpoint_json;
};

// Claims up to max_count (0..100000) queued tasks of queue whose names are in task_names, in
// (priority, run_at, id) order, leased to worker for lease (1 s .. 1 day). Returns none when
// none are due. It first does the scheduler's work (pgtq.pop: delayed tasks and retries that
// are due become queued, expired leases are rescued), so a program working tasks with pop
// gets the same guarantees without any pgtqd running.
inline std::vector<ClaimedTask> pop(PGconn* conn,
                                    std::string_view queue,
                                    const std::vector<std::string>& task_names,
                                    int max_count,
                                    std::string_view worker,
                                    std::chrono::microseconds lease = std::chrono::seconds(15)) {
  const detail::ResultPtr result = detail::run_protocol(
      conn,
      "pgtq.pop",
      "SELECT id, claim, task, args::text, attempt, max_attempts, "
      "(extract(epoch FROM timeout) * 1000000)::int8, parents::text, checkpoint::text "
      "FROM pgtq.pop($1::text, $2::text[], $3::integer, $4::text, $5::interval)",
      {std::string(queue),
       detail::pg_text_array(task_names),
       std::to_string(max_count),
       std::string(worker),
       detail::interval_text(lease)});
  std::vector<ClaimedTask> claimed;
  claimed.reserve(static_cast<std::size_t>(PQntuples(result.get())));
  for (int row = 0; row < PQntuples(result.get()); ++row) {
    ClaimedTask task;
    task.id = detail::int64_at(result.get(), row, 0);
    task.claim = detail::int64_at(result.get(), row, 1);
    task.task = PQgetvalue(result.get(), row, 2);
    task.args_json = PQgetvalue(result.get(), row, 3);
    task.attempt = static_cast<int>(detail::int64_at(result.get(), row, 4));
    task.max_attempts = static_cast<int>(detail::int64_at(result.get(), row, 5));
    if (PQgetisnull(result.get(), row, 6) == 0) {
      task.timeout = std::chrono::microseconds(detail::int64_at(result.get(), row, 6));
    }
    task.parents_json = detail::optional_text_at(result.get(), row, 7);
    task.checkpoint_json = detail::optional_text_at(result.get(), row, 8);
    claimed.push_back(std::move(task));
  }
  return claimed;
}

// Writes how far the task is (progress_json: any JSON, at most 64 KiB; shown in pgtq.tasks)
// and what its next attempt should resume from (checkpoint_json: any JSON, at most 1 MiB;
// the next pop of the task returns it), each unset: unchanged. False: the claim is no longer
// current, its row is locked by another session right now, or both are unset (nothing
// written). Errors: 22P02 not JSON, 54000 over a limit. One database write per call: for
// every few seconds, not for every item of a loop.
inline bool report(PGconn* conn,
                   const ClaimedTask& task,
                   std::optional<std::string_view> progress_json,
                   std::optional<std::string_view> checkpoint_json = std::nullopt) {
  const detail::ResultPtr result = detail::run_protocol(
      conn,
      "pgtq.report",
      "SELECT pgtq.report($1::bigint, $2::bigint, $3::jsonb, $4::jsonb)",
      {std::to_string(task.id),
       std::to_string(task.claim),
       progress_json ? detail::Param(std::string(*progress_json)) : std::nullopt,
       checkpoint_json ? detail::Param(std::string(*checkpoint_json)) : std::nullopt});
  return detail::bool_at(result.get(), 0, 0);
}

// Marks the task succeeded with result_json (raw JSON text, at most 1 MiB as the server
// prints it and 100 levels deep: 54000 otherwise). False: the claim is no longer current and
// nothing was changed.
inline bool complete(PGconn* conn, const ClaimedTask& task, std::string_view result_json = "null") {
  const detail::ResultPtr result = detail::run_protocol(
      conn,
      "pgtq.complete",
      "SELECT pgtq.complete($1::bigint, $2::bigint, $3::jsonb)",
      {std::to_string(task.id), std::to_string(task.claim), std::string(result_json)});
  return detail::bool_at(result.get(), 0, 0);
}

inline bool complete(PGconn* conn, const ClaimedTask& task, const JsonText& result) {
  return complete(conn, task, std::string_view(result.text()));
}

// Records error for this attempt. The task runs again after retry_in (unset: pgtq.backoff's
// exponential backoff, 1 s doubling up to an hour with +-20 % jitter; pgtqd's backoff-*
// settings are its own and do not apply here) while attempts are left, and ends failed when they
// are used up or when permanent is true. Every attempt's error stays in the task's "errors" (the
// last 100 attempts; each error cut to 64 KiB). retry_in: 0 .. 100 years (22023 otherwise). False:
// claim no longer current.
inline bool fail(PGconn* conn,
                 const ClaimedTask& task,
                 std::string_view error,
                 std::optional<std::chrono::microseconds> retry_in = std::nullopt,
                 bool permanent = false) {
  detail::Param retry;
  if (retry_in) {
    retry = detail::interval_text(*retry_in);
  }
  const detail::ResultPtr result = detail::run_protocol(
      conn,
      "pgtq.fail",
      "SELECT pgtq.fail($1::bigint, $2::bigint, $3::text, $4::interval, $5::boolean)",
      {std::to_string(task.id),
       std::to_string(task.claim),
       std::string(error),
       std::move(retry),
       std::string(permanent ? "true" : "false")});
  return detail::bool_at(result.get(), 0, 0);
}

// Runs the task again after delay (0 .. 100 years) without using up an attempt. False: claim
// no longer current.
inline bool snooze(PGconn* conn, const ClaimedTask& task, std::chrono::microseconds delay) {
  const detail::ResultPtr result = detail::run_protocol(
      conn,
      "pgtq.snooze",
      "SELECT pgtq.snooze($1::bigint, $2::bigint, $3::interval)",
      {std::to_string(task.id), std::to_string(task.claim), detail::interval_text(delay)});
  return detail::bool_at(result.get(), 0, 0);
}

// Extends the leases of tasks still held. Returns the ids to stop working on: lost to
// another worker, already finished, or cancelled.
inline std::vector<std::int64_t>
heartbeat(PGconn* conn,
          const std::vector<ClaimedTask>& tasks,
          std::chrono::microseconds lease = std::chrono::seconds(15)) {
  std::vector<std::int64_t> ids;
  std::vector<std::int64_t> claims;
  for (const ClaimedTask& task : tasks) {
    ids.push_back(task.id);
    claims.push_back(task.claim);
  }
  const detail::ResultPtr result =
      detail::run_protocol(conn,
                           "pgtq.heartbeat",
                           "SELECT id FROM pgtq.heartbeat($1::bigint[], $2::bigint[], $3::interval)"
                           " WHERE status IN ('lost', 'cancel')",
                           {detail::pg_integer_array(ids),
                            detail::pg_integer_array(claims),
                            detail::interval_text(lease)});
  std::vector<std::int64_t> stop;
  for (int row = 0; row < PQntuples(result.get()); ++row) {
    stop.push_back(detail::int64_at(result.get(), row, 0));
  }
  return stop;
}

// Gives tasks back unfinished (shutting down): queued again at once, attempt given back.
// Returns how many were still held.
inline int release(PGconn* conn, const std::vector<ClaimedTask>& tasks) {
  std::vector<std::int64_t> ids;
  std::vector<std::int64_t> claims;
  for (const ClaimedTask& task : tasks) {
    ids.push_back(task.id);
    claims.push_back(task.claim);
  }
  const detail::ResultPtr result =
      detail::run_protocol(conn,
                           "pgtq.release",
                           "SELECT pgtq.release($1::bigint[], $2::bigint[])",
                           {detail::pg_integer_array(ids), detail::pg_integer_array(claims)});
  return static_cast<int>(detail::int64_at(result.get(), 0, 0));
}

// Cancels a task: a pending, queued or scheduled one ends cancelled at once (and so do the
// pending tasks that depend on it with on_parent_failure cancel); a running one is asked to
// stop (its worker learns it from heartbeat). False: unknown or already finished.
inline bool cancel(PGconn* conn, std::int64_t task_id) {
  const detail::ResultPtr result = detail::exec(
      conn, "pgtq.cancel", "SELECT pgtq.cancel($1::bigint)", {std::to_string(task_id)});
  return detail::bool_at(result.get(), 0, 0);
}

} // namespace pgtq
