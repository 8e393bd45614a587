#pragma once

// Periodic tasks: thin wrappers over pgtq.set_schedule, pgtq.pause_schedule,
// pgtq.resume_schedule, pgtq.delete_schedule and pgtq.schedule_fire_times
// (sql/schema/18_schedules.sql). pgtqd's scheduler fires them: each fire time pushes one task,
// once, whatever the number of pgtqd.
//
// Each runs one statement on the caller's connection, inside the caller's transaction if one
// is open (a schedule set in a transaction that rolls back never existed). Times come back as
// PostgreSQL prints a timestamptz in the session's TimeZone. Throws pgtq::Error: 22023 for a
// bad name or value (the message names it: a cron field, the time zone, every, catch_up), 22004
// for a missing one, the server's SQLSTATE otherwise.
//
//   pgtq::Schedule nightly;
//   nightly.queue = "reports";
//   nightly.task = "build_report";
//   nightly.args = pgtq::json(R"({"kind": "daily"})");
//   nightly.cron = "30 2 * * *";            // 02:30 every day ...
//   nightly.time_zone = "Europe/Berlin";    // ... on Berlin's clock, DST included
//   pgtq::set_schedule(conn, "nightly-report", nightly);

#include "pgtq/client/error.hpp"
#include "pgtq/client/json.hpp"
#include "pgtq/client/statement.hpp"

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace pgtq {

// What a schedule pushes, and when. Exactly one of cron and every.
struct Schedule {
  std::string queue;
  std::string task;
  JsonText args = json("[]");
  // Five fields (minute hour day-of-month month day-of-week), six with seconds first, or
  // @hourly, @daily, @weekly, @monthly, @yearly; read on time_zone's clock.
  std::optional<std::string> cron;
  // A fixed interval of 1 second to 100 years instead: fire times are its multiples since
  // 1970-01-01 UTC.
  std::optional<Delay> every;
  std::string time_zone = "UTC"; // a name of pg_timezone_names, e.g. "America/New_York"
  // Fire times missed while no pgtqd ran: "latest" (push the newest), "all" (each, at most
  // 1,000 per pass), "none". latest and all skip those older than catch_up_within.
  std::string catch_up = "latest";
  Delay catch_up_within = std::chrono::hours(24); // 1 second..100 years
  // As push's; unset: the queue's defaults.
  std::optional<int> priority;
  std::optional<int> max_attempts;
  std::optional<Delay> timeout;
  bool enabled = true; // false: stored paused
};

namespace detail {

// An interval argument as exact text; refused before sending when it cannot be one.
inline std::string schedule_interval(const Delay& delay, const char* argument) {
  if (!delay.microseconds() || delay.microseconds()->count() <= 0 ||
      *delay.microseconds() > k_max_delay) {
    throw Error("22023",
                std::string("pgtq.set_schedule: ") + argument +
                    " must be more than 0 and at most 100 years");
  }
  return interval_text(*delay.microseconds());
}

} // namespace detail

// Creates or changes schedule name (1..128 characters of [A-Za-z0-9_.:-]). Returns its next
// fire time; none when stored paused. A schedule whose cron, every and time_zone stay the same
// keeps its next fire time (setting it again at each deploy loses no fire); a changed one fires
// next after now.
inline std::optional<std::string>
set_schedule(PGconn* conn, const std::string& name, const Schedule& schedule) {
  const detail::ResultPtr result = detail::exec(
      conn,
      "pgtq.set_schedule",
      "SELECT pgtq.set_schedule($1, $2, $3, $4::jsonb, $5, $6::interval, $7, $8, $9::interval,"
      " $10::integer, $11::integer, $12::interval, $13::boolean)",
      {name,
       schedule.queue,
       schedule.task,
       schedule.args.text(),
       schedule.cron,
       schedule.every ? detail::Param(detail::schedule_interval(*schedule.every, "every"))
                      : std::nullopt,
       schedule.time_zone,
       schedule.catch_up,
       detail::schedule_interval(schedule.catch_up_within, "catch_up_within"),
       schedule.priority ? detail::Param(std::to_string(*schedule.priority)) : std::nullopt,
       schedule.max_attempts ? detail::Param(std::to_string(*schedule.max_attempts)) : std::nullopt,
       schedule.timeout ? detail::Param(detail::schedule_interval(*schedule.timeout, "timeout"))
                        : std::nullopt,
       schedule.enabled ? "true" : "false"});
  return detail::optional_text_at(result.get(), 0, 0);
}

// Pauses schedule name: it fires nothing until resumed. True when it was enabled.
inline bool pause_schedule(PGconn* conn, const std::string& name) {
  const detail::ResultPtr result =
      detail::exec(conn, "pgtq.pause_schedule", "SELECT pgtq.pause_schedule($1)", {name});
  return detail::bool_at(result.get(), 0, 0);
}

// Resumes paused schedule name from its next fire time after now (those while it was paused
// are skipped) and returns that time; none when it does not exist or was not paused.
inline std::optional<std::string> resume_schedule(PGconn* conn, const std::string& name) {
  const detail::ResultPtr result =
      detail::exec(conn, "pgtq.resume_schedule", "SELECT pgtq.resume_schedule($1)", {name});
  return detail::optional_text_at(result.get(), 0, 0);
}

// Deletes schedule name; the tasks it pushed stay. True when it existed.
inline bool delete_schedule(PGconn* conn, const std::string& name) {
  const detail::ResultPtr result =
      detail::exec(conn, "pgtq.delete_schedule", "SELECT pgtq.delete_schedule($1)", {name});
  return detail::bool_at(result.get(), 0, 0);
}

// The next count (1..1000) fire times of schedule name, earliest first; empty when it does not
// exist.
inline std::vector<std::string>
schedule_fire_times(PGconn* conn, const std::string& name, int count = 5) {
  const detail::ResultPtr result =
      detail::exec(conn,
                   "pgtq.schedule_fire_times",
                   "SELECT t::text FROM pgtq.schedule_fire_times($1, $2::integer) AS t",
                   {name, std::to_string(count)});
  std::vector<std::string> times;
  for (int row = 0; row < PQntuples(result.get()); ++row) {
    times.emplace_back(PQgetvalue(result.get(), row, 0));
  }
  return times;
}

} // namespace pgtq
