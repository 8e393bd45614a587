#pragma once

// Redrive, bulk administration and queue controls: thin wrappers over pgtq.retry,
// pgtq.retry_all, pgtq.cancel_all, pgtq.delete and pgtq.update (sql/schema/10_redrive.sql),
// pgtq.pause, pgtq.resume, pgtq.set_global_concurrency, pgtq.set_rate_limit and
// pgtq.set_task_defaults (sql/schema/11_queues.sql), pgtq.set_key_concurrency,
// pgtq.set_key_weight and pgtq.set_key_rate_limit (sql/schema/16_fairness.sql),
// pgtq.set_retention and pgtq.reset_retention (sql/schema/15_retention.sql).
//
// Each runs one statement on the caller's connection, inside the caller's transaction if one
// is open. A bulk call changes at most max_count tasks (1..100000), oldest id first, and
// returns how many it changed; it locks each row it takes, waiting a moment for a daemon
// recording that task's outcome. For more, call retry_all again with the same finished_before
// (a retried task that fails again must not match again) until it returns 0; cancel_all simply
// again. With dry_run it returns how many tasks match (all of them), locking and changing
// nothing. Throws pgtq::Error: 22023 for a bad name, state, max_count or an empty
// error_contains (the message names it), the server's SQLSTATE otherwise.
//
//   pgtq::retry(conn, 42);                                    // one failed task, now
//   pgtq::RetryFilter filter;
//   filter.queue = "emails";
//   filter.error_contains = "connection refused";
//   const std::int64_t would = pgtq::retry_all(conn, filter, /*dry_run=*/true);

#include "pgtq/client/error.hpp"
#include "pgtq/client/json.hpp"
#include "pgtq/client/pg_array.hpp"
#include "pgtq/client/push.hpp"
#include "pgtq/client/statement.hpp"

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

namespace pgtq {

// Which finished tasks retry_all retries. An unset field matches every task.
struct RetryFilter {
  std::optional<std::string> queue;
  std::optional<std::string> task;
  std::optional<std::string> error_contains;    // a substring of the last error (case matters;
                                                // not empty)
  std::optional<Timestamp> finished_after;      // finished at or after
  std::optional<Timestamp> finished_before;     // finished before
  std::vector<std::string> states = {"failed"}; // "failed" and/or "cancelled"
  int max_count = 10000;                        // 1..100000 tasks per call, oldest id first
};

// Which live tasks cancel_all cancels. An unset field matches every task.
struct CancelFilter {
  std::optional<std::string> queue;
  std::optional<std::string> task;
  std::optional<Timestamp> created_after;  // pushed at or after
  std::optional<Timestamp> created_before; // pushed before
  // "pending", "queued", "scheduled" and/or "running" (a running task is asked to stop).
  std::vector<std::string> states = {"queued", "scheduled"};
  int max_count = 10000; // 1..100000 tasks per call, oldest id first
};

// Retries a failed or cancelled task: queued again at run_at (default: now), keeping its id,
// args, attempts and errors; one with no attempts left gets one more. False: the task is
// unknown, not failed or cancelled, being retried by another call, or a live task of its
// queue holds its unique key.
inline bool
retry(PGconn* conn, std::int64_t task_id, const std::optional<Timestamp>& run_at = std::nullopt) {
  const detail::ResultPtr result = detail::exec(
      conn,
      "pgtq.retry",
      "SELECT pgtq.retry($1::bigint, $2::timestamptz)",
      {std::to_string(task_id), run_at ? detail::Param(run_at->text()) : std::nullopt});
  return detail::bool_at(result.get(), 0, 0);
}

// Retries the finished tasks filter matches, as retry(); returns how many (would be) retried.
// Of several that share a unique key, one is retried per call.
inline std::int64_t retry_all(PGconn* conn, const RetryFilter& filter, bool dry_run = false) {
  const auto text = [](const std::optional<Timestamp>& when) {
    return when ? detail::Param(when->text()) : std::nullopt;
  };
  const detail::ResultPtr result = detail::exec(
      conn,
      "pgtq.retry_all",
      "SELECT pgtq.retry_all(queue => $1, task => $2, error_contains => $3,"
      " finished_after => $4::timestamptz, finished_before => $5::timestamptz,"
      " states => $6::pgtq.task_state[], max_count => $7::integer, dry_run => $8::boolean)",
      {filter.queue,
       filter.task,
       filter.error_contains,
       text(filter.finished_after),
       text(filter.finished_before),
       detail::pg_text_array(filter.states),
       std::to_string(filter.max_count),
       dry_run ? "true" : "false"});
  return detail::int64_at(result.get(), 0, 0);
}

// Cancels the live tasks filter matches, as cancel(); returns how many (would be) cancelled or
// asked to stop.
inline std::int64_t cancel_all(PGconn* conn, const CancelFilter& filter, bool dry_run = false) {
  const auto text = [](const std::optional<Timestamp>& when) {
    return when ? detail::Param(when->text()) : std::nullopt;
  };
  const detail::ResultPtr result = detail::exec(
      conn,
      "pgtq.cancel_all",
      "SELECT pgtq.cancel_all(queue => $1, task => $2, created_after => $3::timestamptz,"
      " created_before => $4::timestamptz, states => $5::pgtq.task_state[],"
      " max_count => $6::integer, dry_run => $7::boolean)",
      {filter.queue,
       filter.task,
       text(filter.created_after),
       text(filter.created_before),
       detail::pg_text_array(filter.states),
       std::to_string(filter.max_count),
       dry_run ? "true" : "false"});
  return detail::int64_at(result.get(), 0, 0);
}

// Which tasks delete_all deletes. An unset field matches every task; states has no default:
// one or more of "pending", "queued", "scheduled", "succeeded", "failed", "cancelled" (running
// tasks are never deleted).
struct DeleteFilter {
  std::vector<std::string> states;
  std::optional<std::string> queue;
  std::optional<std::string> task;
  std::optional<Timestamp> created_after;  // pushed at or after
  std::optional<Timestamp> created_before; // pushed before
  int max_count = 10000;                   // 1..100000 tasks per call, oldest id first
};

// Deletes the tasks filter matches, leaving no trace (SQL: pgtq.delete_all); returns how many
// (with dry_run: how many would be, not capped by max_count). Call again for more.
inline std::int64_t delete_all(PGconn* conn, const DeleteFilter& filter, bool dry_run = false) {
  const auto text = [](const std::optional<Timestamp>& when) {
    return when ? detail::Param(when->text()) : std::nullopt;
  };
  const detail::ResultPtr result = detail::exec(
      conn,
      "pgtq.delete_all",
      "SELECT pgtq.delete_all(states => $1::pgtq.task_state[], queue => $2, task => $3,"
      " created_after => $4::timestamptz, created_before => $5::timestamptz,"
      " max_count => $6::integer, dry_run => $7::boolean)",
      {detail::pg_text_array(filter.states),
       filter.queue,
       filter.task,
       text(filter.created_after),
       text(filter.created_before),
       std::to_string(filter.max_count),
       dry_run ? "true" : "false"});
  return detail::int64_at(result.get(), 0, 0);
}

// Deletes a task that is not running (finished, pending, queued or scheduled), leaving no trace
// (SQL: pgtq.delete). False: unknown. A running task throws pgtq::Error 55000: cancel it and
// delete it once it has ended.
inline bool delete_task(PGconn* conn, std::int64_t task_id) {
  const detail::ResultPtr result = detail::exec(
      conn, "pgtq.delete", "SELECT pgtq.delete($1::bigint)", {std::to_string(task_id)});
  return detail::bool_at(result.get(), 0, 0);
}

// What update_task changes; an unset field stays as it is.
struct TaskChanges {
  std::optional<JsonText> args;       // a JSON array or object, as push takes
  std::optional<int> priority;        // -32768..32767
  std::optional<Timestamp> run_at;    // a live task only (a pending one stays pending)
  std::optional<int> max_attempts;    // 1..1000
  std::optional<std::string> timeout; // a PostgreSQL interval, e.g. "90 seconds"
};

// Changes a pending, queued, scheduled, failed or cancelled task (SQL: pgtq.update), say to fix a
// failed task's args before retry(). False: unknown. Throws pgtq::Error 55000 for a running or
// succeeded task (or run_at of a finished one), 22023/54000 for a value push would refuse.
inline bool update_task(PGconn* conn, std::int64_t task_id, const TaskChanges& changes) {
  const detail::ResultPtr result = detail::exec(
      conn,
      "pgtq.update",
      "SELECT pgtq.update($1::bigint, args => $2::jsonb, priority => $3::integer,"
      " run_at => $4::timestamptz, max_attempts => $5::integer, timeout => $6::interval)",
      {std::to_string(task_id),
       changes.args ? detail::Param(changes.args->text()) : std::nullopt,
       changes.priority ? detail::Param(std::to_string(*changes.priority)) : std::nullopt,
       changes.run_at ? detail::Param(changes.run_at->text()) : std::nullopt,
       changes.max_attempts ? detail::Param(std::to_string(*changes.max_attempts)) : std::nullopt,
       changes.timeout});
  return detail::bool_at(result.get(), 0, 0);
}

// Pauses queue: pushes are accepted, nothing is claimed (by any daemon, or pgtq::pop) until
// resume(); tasks already claimed finish. True when it was not paused before.
inline bool pause(PGconn* conn, const std::string& queue) {
  const detail::ResultPtr result =
      detail::exec(conn, "pgtq.pause", "SELECT pgtq.pause($1)", {queue});
  return detail::bool_at(result.get(), 0, 0);
}

// Resumes a paused queue and wakes its waiting workers. True when it was paused.
inline bool resume(PGconn* conn, const std::string& queue) {
  const detail::ResultPtr result =
      detail::exec(conn, "pgtq.resume", "SELECT pgtq.resume($1)", {queue});
  return detail::bool_at(result.get(), 0, 0);
}

// Puts queue's settings back to the defaults: resumed, no concurrency or rate limits (of the
// queue or per key), no task defaults, no key weights, no retention rules of its own (SQL:
// pgtq.reset_queue). True when there was
// anything to reset. Throws pgtq::Error 22023 for a bad name.
inline bool reset_queue(PGconn* conn, const std::string& queue) {
  const detail::ResultPtr result =
      detail::exec(conn, "pgtq.reset_queue", "SELECT pgtq.reset_queue($1)", {queue});
  return detail::bool_at(result.get(), 0, 0);
}

// Limits queue to max_running (1..100000) tasks running at once across every pgtqd and
// program that claims (tasks a daemon claimed ahead count); std::nullopt removes the limit.
// Running tasks are never stopped: claims wait until fewer run. Throws pgtq::Error 22023 for
// a bad name or limit.
inline void
set_global_concurrency(PGconn* conn, const std::string& queue, std::optional<int> max_running) {
  detail::exec(conn,
               "pgtq.set_global_concurrency",
               "SELECT pgtq.set_global_concurrency($1, $2::integer)",
               {queue, max_running ? detail::Param(std::to_string(*max_running)) : std::nullopt});
}

// Limits each fairness key of queue (PushOptions::fairness_key) to max_running (1..100000)
// tasks running at once across every pgtqd and program that claims (claimed ahead counts);
// tasks without a key are not limited by it. std::nullopt removes the limit. Running tasks are
// never stopped. Throws pgtq::Error 22023 for a bad name or limit.
inline void
set_key_concurrency(PGconn* conn, const std::string& queue, std::optional<int> max_running) {
  detail::exec(conn,
               "pgtq.set_key_concurrency",
               "SELECT pgtq.set_key_concurrency($1, $2::integer)",
               {queue, max_running ? detail::Param(std::to_string(*max_running)) : std::nullopt});
}

// Gives fairness key fairness_key (1..1024 bytes) of queue a weight (1..1000): fair claims of
// queue serve it up to weight tasks per turn where a key of weight 1 gets one; std::nullopt
// removes it (1 again). Takes effect at the next claim. Throws pgtq::Error 22023 for a bad
// name, key or weight.
inline void set_key_weight(PGconn* conn,
                           const std::string& queue,
                           const std::string& fairness_key,
                           std::optional<int> weight) {
  detail::exec(
      conn,
      "pgtq.set_key_weight",
      "SELECT pgtq.set_key_weight($1, $2, $3::integer)",
      {queue, fairness_key, weight ? detail::Param(std::to_string(*weight)) : std::nullopt});
}

// At most max_starts (1..1000000) tasks of queue claimed in any window of length per (1 second
// to 1 day) across every pgtqd and program that claims (tasks a daemon claimed ahead count);
// std::nullopt removes the limit. Throws pgtq::Error 22023 for a bad name, limit or period.
inline void set_rate_limit(PGconn* conn,
                           const std::string& queue,
                           std::optional<int> max_starts,
                           std::chrono::seconds per = std::chrono::seconds(1)) {
  detail::exec(conn,
               "pgtq.set_rate_limit",
               "SELECT pgtq.set_rate_limit($1, $2::integer, $3::interval)",
               {queue,
                max_starts ? detail::Param(std::to_string(*max_starts)) : std::nullopt,
                std::to_string(per.count()) + " seconds"});
}

// At most max_starts (1..1000000) tasks of each fairness key of queue (PushOptions::fairness_key)
// claimed in any window of length per (1 second to 1 day), across every pgtqd and program that
// claims (tasks a daemon claimed ahead count); tasks without a key are not limited by it, and a
// key at its limit does not hold back the others. std::nullopt removes the limit. A new limit
// or period starts every key with an empty window. Throws pgtq::Error 22023 for a bad name,
// limit or period (SQL: pgtq.set_key_rate_limit).
inline void set_key_rate_limit(PGconn* conn,
                               const std::string& queue,
                               std::optional<int> max_starts,
                               std::chrono::seconds per = std::chrono::seconds(1)) {
  detail::exec(conn,
               "pgtq.set_key_rate_limit",
               "SELECT pgtq.set_key_rate_limit($1, $2::integer, $3::interval)",
               {queue,
                max_starts ? detail::Param(std::to_string(*max_starts)) : std::nullopt,
                std::to_string(per.count()) + " seconds"});
}

// What a push to queue that gives no priority, max attempts or timeout of its own gets (SQL:
// pgtq.set_task_defaults). An unset field: the built-in default (priority 0, 5 attempts, no
// timeout of the task's own, so the task name's and then pgtqd's apply). All three are set at
// once; tasks already pushed keep theirs. Throws pgtq::Error 22023 for a bad name or value (a
// timeout must be more than 0 and at most 365 days, checked before sending).
struct TaskDefaults {
  std::optional<int> priority = std::nullopt;     // -32768..32767
  std::optional<int> max_attempts = std::nullopt; // 1..1000
  std::optional<Delay> timeout = std::nullopt;
};

inline void
set_task_defaults(PGconn* conn, const std::string& queue, const TaskDefaults& defaults) {
  PushOptions checked;
  checked.timeout = defaults.timeout;
  detail::check_options(checked, "pgtq.set_task_defaults");
  detail::exec(
      conn,
      "pgtq.set_task_defaults",
      "SELECT pgtq.set_task_defaults($1, $2::integer, $3::integer, $4::interval)",
      {queue,
       defaults.priority ? detail::Param(std::to_string(*defaults.priority)) : std::nullopt,
       defaults.max_attempts ? detail::Param(std::to_string(*defaults.max_attempts)) : std::nullopt,
       defaults.timeout ? detail::Param(detail::interval_text(*defaults.timeout->microseconds()))
                        : std::nullopt});
}

// Keeps the tasks of queue that ended in state ("succeeded", "failed" or "cancelled") for keep
// (any std::chrono::duration, 0 to 100 years; SQL takes calendar months too) after they ended;
// pgtqd deletes older ones within seconds, in batches of at most 10,000 (SQL: pgtq.set_retention).
// queue std::nullopt: the default of every queue without a rule of its own; state std::nullopt: all
// three end states; keep std::nullopt: until pruned, whatever the default says. Throws pgtq::Error
// 22023 for a bad name, state or keep (the message names it).
//
//   pgtq::set_retention(conn, std::nullopt, "succeeded", std::chrono::hours(24 * 7));
//   pgtq::set_retention(conn, "audit", std::nullopt, std::nullopt); // audit: kept forever
inline void set_retention(PGconn* conn,
                          const std::optional<std::string>& queue,
                          const std::optional<std::string>& state,
                          const std::optional<Delay>& keep) {
  if (keep && (!keep->microseconds() || keep->microseconds()->count() < 0 ||
               *keep->microseconds() > detail::k_max_delay)) {
    char given[32];
    std::snprintf(given, sizeof given, "%g s", keep->seconds());
    throw Error("22023",
                std::string("pgtq.set_retention: keep must be 0 to 100 years (std::nullopt: until "
                            "pruned), got ") +
                    given);
  }
  detail::exec(conn,
               "pgtq.set_retention",
               "SELECT pgtq.set_retention($1, $2, $3::interval)",
               {queue,
                state,
                keep ? detail::Param(detail::interval_text(*keep->microseconds())) : std::nullopt});
}

// Removes queue's own retention rule for state (std::nullopt: all three end states), so that
// the default applies to it again; queue std::nullopt removes the default. Returns how many
// rules it removed (SQL: pgtq.reset_retention). Throws pgtq::Error 22023 for a bad name or
// state.
inline int reset_retention(PGconn* conn,
                           const std::optional<std::string>& queue,
                           const std::optional<std::string>& state) {
  const detail::ResultPtr result = detail::exec(
      conn, "pgtq.reset_retention", "SELECT pgtq.reset_retention($1, $2)", {queue, state});
  return static_cast<int>(detail::int64_at(result.get(), 0, 0));
}

} // namespace pgtq
