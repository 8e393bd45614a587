// The history partitioned by UTC day (sql/schema/17_history.sql): outcomes land in their day's
// partition, retention and prune drop whole past days when they may, delete row by row only
// what a drop would keep too long, never wait long for a reader of the history, and migration
// 0029 keeps an existing history.
#include "db/migrator.hpp"
#include "pgtq/client.hpp"
#include "support/sql.hpp"
#include "support/test_database.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using namespace pgtq;
using namespace pgtq::test;

namespace {

// Today, UTC, as a date literal's text, shifted by days.
std::string utc_day(db::Connection& conn, int days) {
  return scalar(conn,
                "SELECT ((now() AT TIME ZONE 'UTC')::date + $1::integer)::text",
                {std::to_string(days)});
}

std::string partition_of_day(db::Connection& conn, int days) {
  return "pgtq.finished_tasks_p" +
         scalar(conn,
                "SELECT to_char((now() AT TIME ZONE 'UTC')::date + $1::integer, 'YYYYMMDD')",
                {std::to_string(days)});
}

bool exists(db::Connection& conn, const std::string& relation) {
  return scalar(conn, "SELECT to_regclass($1) IS NOT NULL", {relation}) == "t";
}

// n tasks of queue that ended in state at `at` (an expression of a timestamptz), written into
// the history as a real outcome writes them.
void ended(db::Connection& conn,
           int n,
           const std::string& queue,
           const std::string& state,
           const std::string& at) {
  query(conn,
        "INSERT INTO pgtq.finished_tasks (id, queue, task, args, state, priority, run_at, "
        "attempts, max_attempts, created_at, started_at, finished_at, locked_by, result, "
        "last_error, errors) "
        "SELECT nextval('pgtq.task_id_seq'), $2, 't', '[]', $3::pgtq.task_state, 0, t, 1, 5, t, "
        "t, t, 'w', NULL, NULL, '[]' FROM generate_series(1, $1::integer), (SELECT " +
            at + " AS t) at",
        {std::to_string(n), queue, state});
}

// The start of the UTC day `days` from today, plus hours, as a timestamptz expression.
std::string day_at(int days, int hours) {
  return "(((now() AT TIME ZONE 'UTC')::date + " + std::to_string(days) + ")::timestamp + " +
         std::to_string(hours) + " * interval '1 hour') AT TIME ZONE 'UTC'";
}

long long tasks_of(db::Connection& conn, const std::string& queue) {
  return count(conn, "SELECT count(*) FROM pgtq.finished_tasks WHERE queue = $1", {queue});
}

long long apply(db::Connection& conn) {
  return count(conn, "SELECT pgtq.apply_retention(10000)");
}

} // namespace

TEST_CASE("the history has a partition per UTC day: an outcome lands in its day's, and "
          "retention makes today's and the next three days' when they are missing") {
  TestDatabase database;
  db::Connection conn = database.connect();
  PGconn* pg = conn.native();
  for (int day = 0; day < 4; ++day) {
    CAPTURE(day);
    CHECK(exists(conn, partition_of_day(conn, day)));
  }
  CHECK(exists(conn, "pgtq.finished_tasks_default"));

  const std::int64_t id = push(pg, "q", "t", json("[]"));
  const std::vector<ClaimedTask> claimed = pop(pg, "q", {"t"}, 1, "w");
  REQUIRE(claimed.size() == 1);
  REQUIRE(complete(pg, claimed[0]));
  CHECK(scalar(conn,
               "SELECT tableoid::regclass::text = 'pgtq.finished_tasks_p' || "
               "to_char(finished_at AT TIME ZONE 'UTC', 'YYYYMMDD') FROM pgtq.finished_tasks "
               "WHERE id = $1::bigint",
               {std::to_string(id)}) == "t");

  query(conn, "DROP TABLE " + partition_of_day(conn, 2));
  apply(conn);
  CHECK(exists(conn, partition_of_day(conn, 2)));
  CHECK(count(conn, "SELECT pgtq.add_history_partitions()") == 0);
  // Days asked for by hand: the past ones an import of old history needs.
  CHECK(count(conn, "SELECT pgtq.add_history_partitions($1::date, 3)", {utc_day(conn, -10)}) == 3);
  CHECK(exists(conn, partition_of_day(conn, -9)));
}

TEST_CASE("retention drops a past day's partition once all its tasks are past their "
          "retention, and deletes row by row only what a drop would keep too long") {
  TestDatabase database;
  db::Connection conn = database.connect();
  REQUIRE(count(conn, "SELECT pgtq.add_history_partitions($1::date, 3)", {utc_day(conn, -10)}) ==
          3);
  // Day -10: queue a only. Day -9: a, and b that is kept until pruned. Day -8: a, and c that
  // is kept 30 days.
  ended(conn, 100, "a", "succeeded", day_at(-10, 12));
  ended(conn, 10, "a", "succeeded", day_at(-9, 12));
  ended(conn, 10, "b", "succeeded", day_at(-9, 12));
  ended(conn, 10, "a", "failed", day_at(-8, 12));
  ended(conn, 10, "c", "failed", day_at(-8, 12));
  query(conn, "SELECT pgtq.set_retention(NULL, NULL, '5 days')");
  query(conn, "SELECT pgtq.set_retention('b', NULL, NULL)");
  query(conn, "SELECT pgtq.set_retention('c', NULL, '30 days')");
  CHECK(count(conn, "SELECT pgtq.apply_retention(1, dry_run => true)") == 120);

  CHECK(apply(conn) == 120);
  CHECK_FALSE(exists(conn, partition_of_day(conn, -10)));
  CHECK(exists(conn, partition_of_day(conn, -9)));
  CHECK(exists(conn, partition_of_day(conn, -8)));
  CHECK(tasks_of(conn, "a") == 0);
  CHECK(tasks_of(conn, "b") == 10);
  CHECK(tasks_of(conn, "c") == 10);
  CHECK(apply(conn) == 0);
}

TEST_CASE("a task is kept at most a quarter of its retention past it: with a retention of "
          "days, a partition's early tasks wait for the drop of the whole day") {
  TestDatabase database;
  db::Connection conn = database.connect();
  REQUIRE(count(conn, "SELECT pgtq.add_history_partitions($1::date, 1)", {utc_day(conn, -6)}) == 1);
  ended(conn, 5, "a", "succeeded", day_at(-6, 1));
  ended(conn, 5, "a", "succeeded", day_at(-6, 23));
  // The early tasks are past it by 11 hours, the late ones have 11 hours to go: all of them
  // go in 11 hours, when the day goes.
  query(conn,
        "SELECT pgtq.set_retention(NULL, NULL, date_trunc('second', now() - " + day_at(-6, 12) +
            "))");
  CHECK(count(conn, "SELECT pgtq.apply_retention(1, dry_run => true)") == 5);
  CHECK(apply(conn) == 0);
  CHECK(tasks_of(conn, "a") == 10);

  // A queue kept for an hour beside one kept for 30 days: the day stays for the second, and
  // the first's tasks, past their hour, are deleted row by row.
  ended(conn, 5, "z", "succeeded", day_at(-6, 12));
  query(conn, "SELECT pgtq.set_retention('z', NULL, '30 days')");
  query(conn, "SELECT pgtq.set_retention('a', 'succeeded', '1 hour')");
  CHECK(apply(conn) == 10);
  CHECK(exists(conn, partition_of_day(conn, -6)));
  CHECK(tasks_of(conn, "a") == 0);
  CHECK(tasks_of(conn, "z") == 5);
}

TEST_CASE("prune drops the partitions that end before its time and deletes from the rest") {
  TestDatabase database;
  db::Connection conn = database.connect();
  REQUIRE(count(conn, "SELECT pgtq.add_history_partitions($1::date, 2)", {utc_day(conn, -10)}) ==
          2);
  ended(conn, 7, "a", "succeeded", day_at(-10, 6));
  ended(conn, 3, "a", "failed", day_at(-9, 6));
  ended(conn, 4, "a", "failed", day_at(-9, 18));
  CHECK(count(conn, "SELECT pgtq.prune(" + day_at(-9, 12) + ")") == 10);
  CHECK_FALSE(exists(conn, partition_of_day(conn, -10)));
  CHECK(exists(conn, partition_of_day(conn, -9)));
  CHECK(tasks_of(conn, "a") == 4);
}

TEST_CASE("a long reader of the history holds back neither retention nor outcomes: the "
          "partition goes at the next pass after it") {
  TestDatabase database;
  db::Connection conn = database.connect();
  PGconn* pg = conn.native();
  query(conn, "SET statement_timeout = '20s'"); // a wait without end fails the test instead
  REQUIRE(count(conn, "SELECT pgtq.add_history_partitions($1::date, 1)", {utc_day(conn, -10)}) ==
          1);
  ended(conn, 3, "a", "succeeded", day_at(-10, 12));
  query(conn, "SELECT pgtq.set_retention(NULL, NULL, '1 day')");

  db::Connection reader = database.connect();
  reader.run_script("BEGIN");
  CHECK(count(reader, "SELECT count(*) FROM pgtq.tasks") == 3);
  // The drop's lock is not granted within 200 ms: meanwhile the tasks go row by row.
  CHECK(apply(conn) == 3);
  CHECK(exists(conn, partition_of_day(conn, -10)));
  const std::int64_t id = push(pg, "a", "t", json("[]"));
  const std::vector<ClaimedTask> claimed = pop(pg, "a", {"t"}, 1, "w");
  REQUIRE(claimed.size() == 1);
  CHECK(complete(pg, claimed[0]));
  reader.run_script("COMMIT");

  CHECK(apply(conn) == 0); // the empty day goes
  CHECK_FALSE(exists(conn, partition_of_day(conn, -10)));
  CHECK(scalar(conn, "SELECT state FROM pgtq.tasks WHERE id = $1::bigint", {std::to_string(id)}) ==
        "succeeded");
}

TEST_CASE("a task that ends on a day without a partition goes to the default partition, that "
          "day gets none, and retention deletes it there") {
  TestDatabase database;
  db::Connection conn = database.connect();
  ended(conn, 2, "a", "cancelled", day_at(-20, 12));
  CHECK(count(conn, "SELECT count(*) FROM pgtq.finished_tasks_default") == 2);
  CHECK(count(conn, "SELECT pgtq.add_history_partitions($1::date, 1)", {utc_day(conn, -20)}) == 0);
  CHECK_FALSE(exists(conn, partition_of_day(conn, -20)));
  query(conn, "SELECT pgtq.set_retention('a', 'cancelled', '1 day')");
  CHECK(apply(conn) == 2);
  CHECK(tasks_of(conn, "a") == 0);
  CHECK(exists(conn, "pgtq.finished_tasks_default"));
}

TEST_CASE("0029 keeps an existing history: the days before today in a legacy partition, "
          "today's in the new ones, and retention drops the legacy one once it may") {
  EmptyDatabase database;
  db::Connection conn = database.connect();
  std::vector<db::Migration> through_0028;
  for (const db::Migration& migration : db::embedded_migrations()) {
    if (migration.version <= 28) {
      through_0028.push_back(migration);
    }
  }
  db::Migrator(through_0028).migrate(conn);
  ended(conn, 3, "a", "succeeded", "now() - interval '3 days'");
  ended(conn, 2, "a", "failed", "now()");
  query(conn, "GRANT SELECT ON pgtq.finished_tasks TO PUBLIC");
  // The columns 0028 has (later migrations add more, empty for these rows).
  const std::string rows_sql =
      "SELECT string_agg(row(f.id, f.queue, f.task, f.args, f.state, f.priority, f.run_at,"
      " f.attempts, f.max_attempts, f.created_at, f.started_at, f.finished_at, f.locked_by,"
      " f.result, f.last_error, f.errors, f.timeout, f.unique_key, f.fairness_key)::text,"
      " E'\\n' ORDER BY id) FROM pgtq.finished_tasks f";
  const std::string before = scalar(conn, rows_sql);

  db::Migrator().migrate(conn);
  CHECK(scalar(conn, rows_sql) == before);
  CHECK(count(conn, "SELECT count(*) FROM pgtq.finished_tasks_legacy") == 3);
  CHECK(count(conn,
              "SELECT count(*) FROM pgtq.finished_tasks WHERE tableoid = $1::regclass",
              {partition_of_day(conn, 0)}) == 2);
  // What was granted on the history is granted on the new one.
  CHECK(scalar(conn, "SELECT has_table_privilege('public', 'pgtq.finished_tasks', 'SELECT')") ==
        "t");
  CHECK(scalar(conn,
               "SELECT pgtq.history_partition_end('pgtq.finished_tasks_legacy') = "
               "(now() AT TIME ZONE 'UTC')::date::timestamp AT TIME ZONE 'UTC'") == "t");

  query(conn, "SELECT pgtq.set_retention(NULL, NULL, '1 day')");
  CHECK(apply(conn) == 3);
  CHECK_FALSE(exists(conn, "pgtq.finished_tasks_legacy"));
  CHECK(tasks_of(conn, "a") == 2);
}
