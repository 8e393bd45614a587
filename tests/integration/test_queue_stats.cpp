// pgtq.queue_stats (sql/schema/14_queue_stats.sql): every queue with live tasks, recent ends,
// settings or live workers, with figures that match its tasks.
#include "pgtq/client.hpp"
#include "support/sql.hpp"
#include "support/test_database.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <string>

using namespace pgtq;
using namespace pgtq::test;

TEST_CASE("queue_stats counts each queue's tasks by state, the oldest queued task's age, the last "
          "hour's ends, its workers and settings") {
  TestDatabase database;
  db::Connection conn = database.connect();
  PGconn* pg = conn.native();
  for (int i = 0; i < 3; ++i) {
    push(pg, "q", "t", i);
  }
  push(pg, "q", "t", pgtq::args(9), {.delay = std::chrono::hours(1)});
  std::vector<ClaimedTask> claimed = pop(pg, "q", {"t"}, 1, "w");
  REQUIRE(claimed.size() == 1);
  REQUIRE(complete(pg, claimed[0]));
  claimed = pop(pg, "q", {"t"}, 1, "w");
  REQUIRE(claimed.size() == 1);
  REQUIRE(fail(pg, claimed[0], "boom", std::nullopt, /*permanent=*/true));
  claimed = pop(pg, "q", {"t"}, 1, "w"); // the last one runs
  REQUIRE(claimed.size() == 1);
  push(pg, "q", "t", 4);
  query(conn,
        "UPDATE pgtq.live_tasks SET run_at = now() - interval '10 minutes'"
        " WHERE state = 'queued'");

  CHECK(scalar(conn,
               "SELECT concat_ws(' ', queued, scheduled, running, succeeded_last_hour,"
               " failed_last_hour, cancelled_last_hour, workers, paused,"
               " oldest_queued_age >= interval '10 minutes')"
               " FROM pgtq.queue_stats WHERE queue = 'q'") == "1 1 1 1 1 0 0 f t");

  // What ended more than an hour ago is not counted; a queue with nothing but a setting, or
  // nothing but a live worker, is listed.
  query(conn, "UPDATE pgtq.finished_tasks SET finished_at = now() - interval '2 hours'");
  CHECK(scalar(conn,
               "SELECT succeeded_last_hour + failed_last_hour FROM pgtq.queue_stats"
               " WHERE queue = 'q'") == "0");
  pause(pg, "idle");
  query(conn,
        "SELECT pgtq.worker_seen('h:1', 'served', 'h', 1, '1.0', 8, 'process', '5 seconds',"
        " now())");
  CHECK(scalar(conn,
               "SELECT string_agg(queue || ':' || paused || ':' || workers || ':'"
               " || worker_slots, ',' ORDER BY queue) FROM pgtq.queue_stats") ==
        "idle:true:0:0,q:false:0:0,served:false:1:8");
}

TEST_CASE("reset_queue puts a queue's settings back to the defaults and takes it off queue_stats") {
  TestDatabase database;
  db::Connection conn = database.connect();
  PGconn* pg = conn.native();
  // A queue named by mistake, with every kind of setting.
  pause(pg, "typo");
  set_global_concurrency(pg, "typo", 3);
  set_rate_limit(pg, "typo", 5, std::chrono::seconds(60));
  set_retention(pg, "typo", "failed", std::chrono::hours(1));
  set_retention(pg, std::nullopt, "failed", std::chrono::hours(2)); // the default stays
  CHECK(count(conn, "SELECT count(*) FROM pgtq.queue_stats WHERE queue = 'typo'") == 1);
  CHECK(reset_queue(pg, "typo"));
  CHECK(count(conn, "SELECT count(*) FROM pgtq.queue_stats WHERE queue = 'typo'") == 0);
  CHECK(count(conn, "SELECT count(*) FROM pgtq.queues") == 0);
  CHECK(scalar(conn, "SELECT string_agg(coalesce(queue, '*'), ',') FROM pgtq.retention") == "*");
  CHECK_FALSE(reset_queue(pg, "typo"));

  // A queue with tasks is resumed and unlimited: its tasks can be claimed at once.
  push(pg, "q", "t", 1);
  push(pg, "q", "t", 2);
  pause(pg, "q");
  CHECK(pop(pg, "q", {"t"}, 5, "w").empty());
  CHECK(reset_queue(pg, "q"));
  CHECK(pop(pg, "q", {"t"}, 5, "w").size() == 2);
}

TEST_CASE("queue_minutes has each queue's ends per minute of the last hour with wait and run "
          "time percentiles, and queue_stats the last hour's") {
  TestDatabase database;
  db::Connection conn = database.connect();
  // Tasks written straight into the history at known times, all ending in the minute m five
  // minutes ago: due at m, started g × 10 ms later, ran g ms.
  query(conn,
        "INSERT INTO pgtq.finished_tasks (id, queue, task, args, state, priority, run_at,"
        " attempts, max_attempts, created_at, started_at, finished_at, errors)"
        " SELECT g, 'q', 't', '[]', CASE WHEN g % 10 = 0 THEN 'failed' ELSE 'succeeded' END"
        "::pgtq.task_state, 0, m, 1, 5, m, m + g * interval '10 ms',"
        " m + g * interval '10 ms' + g * interval '1 ms', '[]'"
        " FROM generate_series(1, 100) g,"
        " (SELECT date_bin('1 minute', now(), '2000-01-01') - interval '5 minutes' AS m) t");
  // Counted, in no percentile: a task cancelled while queued, and one cancelled while it waited
  // for a retry (its started_at is its first attempt's, before its run_at). Not counted at all:
  // one that ended two hours ago.
  query(conn,
        "INSERT INTO pgtq.finished_tasks (id, queue, task, args, state, priority, run_at,"
        " attempts, max_attempts, created_at, started_at, finished_at, errors)"
        " SELECT v.id, 'q', 't', '[]', v.state::pgtq.task_state, 0, v.run_at, 1, 5, m,"
        " v.started_at, v.finished_at, '[]'"
        " FROM (SELECT date_bin('1 minute', now(), '2000-01-01') - interval '5 minutes' AS m) t,"
        " LATERAL (VALUES (101, 'cancelled', m, NULL::timestamptz, m + interval '30 s'),"
        "  (102, 'cancelled', m + interval '20 s', m - interval '10 s', m + interval '40 s'),"
        "  (103, 'succeeded', now(), now(), now() - interval '2 hours'))"
        " AS v(id, state, run_at, started_at, finished_at)");
  CHECK(scalar(conn,
               "SELECT concat_ws(' ', count(*), sum(succeeded), sum(failed), sum(cancelled))"
               " FROM pgtq.queue_minutes WHERE queue = 'q'") == "1 90 10 2");
  // Waits of 10..1000 ms and runs of 1..100 ms: their medians and 95th percentiles.
  CHECK(scalar(conn,
               "SELECT concat_ws(' ', wait_p50, wait_p95, run_p50, run_p95, run_p99,"
               " minute = date_bin('1 minute', now(), '2000-01-01') - interval '5 minutes')"
               " FROM pgtq.queue_minutes WHERE queue = 'q'") ==
        "00:00:00.505 00:00:00.9505 00:00:00.0505 00:00:00.09505 00:00:00.09901 t");
  CHECK(scalar(conn,
               "SELECT concat_ws(' ', wait_p50_last_hour, run_p95_last_hour)"
               " FROM pgtq.queue_stats WHERE queue = 'q'") == "00:00:00.505 00:00:00.09505");
}
