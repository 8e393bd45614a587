// Retention (sql/schema/15_retention.sql): finished tasks are deleted once past the rule of
// their queue and end state (a queue's own, else the default), never before, in bounded
// batches, and pgtqd applies the rules by itself.
#include "pgtq/client.hpp"
#include "support/daemon_process.hpp"
#include "support/sql.hpp"
#include "support/test_database.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

using namespace pgtq;
using namespace pgtq::test;
using namespace std::chrono_literals;

namespace {

// A task of queue that ended in state (succeeded, failed or cancelled) age ago (a PostgreSQL
// interval): time is set through the history's finished_at, not waited for.
std::int64_t finished(db::Connection& conn,
                      const std::string& queue,
                      const std::string& state,
                      const std::string& age) {
  PGconn* pg = conn.native();
  const std::int64_t id = push(pg, queue, state, json("[]"), {.max_attempts = 1});
  if (state == "cancelled") {
    REQUIRE(cancel(pg, id));
  } else {
    const std::vector<ClaimedTask> claimed = pop(pg, queue, {state}, 1, "w");
    REQUIRE(claimed.size() == 1);
    REQUIRE((state == "succeeded" ? complete(pg, claimed[0]) : fail(pg, claimed[0], "boom")));
  }
  query(conn,
        "UPDATE pgtq.finished_tasks SET finished_at = now() - $2::interval WHERE id = $1::bigint",
        {std::to_string(id), age});
  return id;
}

// The ids of the history, ascending, as "1,2,3".
std::string history(db::Connection& conn) {
  return scalar(conn,
                "SELECT coalesce(string_agg(id::text, ',' ORDER BY id), '')"
                " FROM pgtq.finished_tasks");
}

std::string ids(const std::vector<std::int64_t>& list) {
  std::string text;
  for (const std::int64_t id : list) {
    text += (text.empty() ? "" : ",") + std::to_string(id);
  }
  return text;
}

long long apply(db::Connection& conn, int max_count = 10000) {
  return count(conn, "SELECT pgtq.apply_retention($1::integer)", {std::to_string(max_count)});
}

} // namespace

TEST_CASE("retention deletes what is past its queue's rule or the default, and nothing else") {
  TestDatabase database;
  db::Connection conn = database.connect();
  PGconn* pg = conn.native();
  // Queue a follows the default (7 days); b keeps failed tasks forever; c keeps succeeded
  // ones 30 minutes.
  set_retention(pg, std::nullopt, std::nullopt, std::chrono::hours(1));
  // Set again: the rules of the default (queue NULL) are replaced, not added.
  set_retention(pg, std::nullopt, std::nullopt, std::chrono::hours(24 * 7));
  set_retention(pg, "b", "failed", std::nullopt);
  set_retention(pg, "c", "succeeded", std::chrono::minutes(30));

  std::vector<std::int64_t> kept;
  for (const std::string queue : {"a", "b", "c"}) {
    for (const std::string state : {"succeeded", "failed", "cancelled"}) {
      const std::int64_t recent = finished(conn, queue, state, "1 hour");
      const std::int64_t old = finished(conn, queue, state, "10 days");
      if (queue != "c" || state != "succeeded") {
        kept.push_back(recent);
      }
      if (queue == "b" && state == "failed") {
        kept.push_back(old);
      }
    }
  }
  CHECK(count(conn, "SELECT count(*) FROM pgtq.retention") == 5);
  // A task that ended 6 days 23 hours ago is not due under 7 days.
  kept.push_back(finished(conn, "a", "failed", "6 days 23 hours"));
  std::sort(kept.begin(), kept.end());

  // A dry run counts them all, and deletes nothing.
  CHECK(count(conn, "SELECT pgtq.apply_retention(1, dry_run => true)") == 9);
  CHECK(count(conn, "SELECT count(*) FROM pgtq.finished_tasks") == 19);
  // In batches of at most max_count, until nothing more is due.
  CHECK(apply(conn, 3) == 3);
  CHECK(apply(conn, 3) == 3);
  CHECK(apply(conn, 3) == 3);
  CHECK(apply(conn, 3) == 0);
  CHECK(count(conn, "SELECT pgtq.apply_retention(dry_run => true)") == 0);
  CHECK(history(conn) == ids(kept));

  // Without its own rule, b's failed tasks follow the default again; without the default,
  // queue a keeps everything.
  const std::int64_t b_failed_old = finished(conn, "b", "failed", "8 days");
  CHECK(reset_retention(pg, "b", "failed") == 1);
  const std::int64_t a_old = finished(conn, "a", "succeeded", "30 days");
  CHECK(reset_retention(pg, std::nullopt, std::nullopt) == 3);
  CHECK(reset_retention(pg, std::nullopt, std::nullopt) == 0);
  // b's failed tasks and a's: no rule now. c's succeeded rule stays, and c's tasks of other
  // states are kept.
  CHECK(apply(conn) == 0);
  CHECK(count(conn,
              "SELECT count(*) FROM pgtq.finished_tasks WHERE id IN ($1::bigint, $2::bigint)",
              {std::to_string(b_failed_old), std::to_string(a_old)}) == 2);
  set_retention(pg, std::nullopt, "failed", std::chrono::days(1));
  // b's failed tasks of 8 and 10 days (b follows the default now) and a's of 6 days 23 hours.
  CHECK(apply(conn) == 3);
  CHECK(count(conn,
              "SELECT count(*) FROM pgtq.finished_tasks WHERE queue = 'b' AND state = 'failed'"
              " AND finished_at < now() - interval '1 day'") == 0);
  // Zero keeps nothing once it ended.
  set_retention(pg, "c", std::nullopt, std::chrono::seconds(0));
  CHECK(apply(conn) == 2); // c's recent failed and cancelled tasks
  CHECK(count(conn, "SELECT count(*) FROM pgtq.finished_tasks WHERE queue = 'c'") == 0);
  // The rules as they stand: the default for failed, and c's three.
  CHECK(scalar(conn,
               "SELECT string_agg(coalesce(queue, '*') || ':' || state || ':' ||"
               " coalesce(keep::text, 'forever'), ' ' ORDER BY queue NULLS FIRST, state)"
               " FROM pgtq.retention") ==
        "*:failed:24:00:00 c:succeeded:00:00:00 c:failed:00:00:00 c:cancelled:00:00:00");
}

TEST_CASE("the client refuses a keep it cannot send exactly, and names set_retention once") {
  TestDatabase database;
  db::Connection conn = database.connect();
  PGconn* pg = conn.native();
  // 585,000 years in seconds overflows microseconds: refused, not sent wrapped around.
  for (const Delay keep : {Delay(std::chrono::seconds(18446744073710)),
                           Delay(std::chrono::hours::max()),
                           Delay(std::chrono::seconds::min()),
                           Delay(std::chrono::duration<double>(-1.5))}) {
    try {
      set_retention(pg, "q", "succeeded", keep);
      FAIL("accepted");
    } catch (const Error& error) {
      CHECK(error.sqlstate() == "22023");
      CHECK(std::string(error.what()).find("keep must be") != std::string::npos);
    }
  }
  try {
    set_retention(pg, "q", "queued", std::chrono::hours(1));
    FAIL("accepted");
  } catch (const Error& error) {
    CHECK(error.sqlstate() == "22023");
    CHECK(std::string(error.what()).rfind("pgtq.set_retention: state must be", 0) == 0);
  }
  set_retention(pg, "q", "succeeded", std::chrono::duration<double>(90.5));
  CHECK(count(conn, "SELECT count(*) FROM pgtq.retention") == 1);
  CHECK(scalar(conn, "SELECT keep::text FROM pgtq.retention") == "00:01:30.5");
  CHECK(count(conn, "SELECT pgtq.reset_retention('q')") == 1);
}

TEST_CASE("retention works one caller at a time and skips a task being retried") {
  TestDatabase database;
  db::Connection conn = database.connect();
  PGconn* pg = conn.native();
  set_retention(pg, std::nullopt, std::nullopt, std::chrono::seconds(0));
  finished(conn, "q", "failed", "1 second");

  // Another session applying the rules holds the turn until it commits: this one gets 0.
  db::Connection other = database.connect();
  other.run_script("BEGIN");
  CHECK(count(other, "SELECT pgtq.apply_retention(1)") == 1);
  const std::int64_t second = finished(conn, "q", "failed", "1 second");
  CHECK(apply(conn) == 0);
  other.run_script("COMMIT");

  // A row another transaction has locked (as pgtq.retry does) is skipped, not waited for,
  // and deleted by a later call.
  other.run_script("BEGIN");
  query(other,
        "SELECT id FROM pgtq.finished_tasks WHERE id = $1::bigint FOR UPDATE",
        {std::to_string(second)});
  finished(conn, "q", "cancelled", "1 second");
  CHECK(apply(conn) == 1);
  CHECK(history(conn) == std::to_string(second));
  other.run_script("COMMIT");
  CHECK(apply(conn) == 1);
  CHECK(history(conn).empty());
}

TEST_CASE("pgtqd applies the retention rules of every queue by itself") {
  TestDatabase database;
  db::Connection conn = database.connect();
  PGconn* pg = conn.native();
  finished(conn, "other", "cancelled", "2 days");
  finished(conn, "default", "failed", "2 days");
  const std::int64_t recent = finished(conn, "other", "cancelled", "1 hour");
  const std::int64_t no_rule = finished(conn, "other", "succeeded", "2 days");
  set_retention(pg, std::nullopt, "cancelled", std::chrono::days(1));
  set_retention(pg, "default", "failed", std::chrono::days(1));
  const std::vector<std::int64_t> left = {recent, no_rule};

  DaemonProcess daemon({.dsn = database.dsn(), .plugin_dirs = {example_plugin_dir()}});
  // The first pass comes with the scheduler's first tick, whatever queue the daemon serves.
  REQUIRE_MESSAGE(eventually([&] { return history(conn) == ids(left); }, 20s), daemon.log());
  CHECK_MESSAGE(daemon.wait_for_log("retention: deleted 2 finished task(s)", 5s), daemon.log());
  CHECK(daemon.running());
}
