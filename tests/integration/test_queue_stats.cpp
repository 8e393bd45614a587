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
