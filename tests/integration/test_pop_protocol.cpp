// Working tasks through client.hpp: pop, complete, fail, snooze, heartbeat, release, cancel,
// and the fencing that makes a late call from a lost worker harmless.
#include "pgtq/client.hpp"
#include "support/sql.hpp"
#include "support/task_state.hpp"
#include "support/test_database.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

using namespace pgtq;
using namespace std::chrono_literals;
using pgtq::test::field;

namespace {

ClaimedTask pop_one(db::Connection& conn,
                    const std::string& queue,
                    const std::string& task,
                    std::chrono::microseconds lease = 15s) {
  std::vector<ClaimedTask> claimed = pop(conn.native(), queue, {task}, 1, "worker-1", lease);
  REQUIRE(claimed.size() == 1);
  return claimed[0];
}

} // namespace

TEST_CASE("pop claims only the named tasks in priority order") {
  test::TestDatabase database;
  db::Connection conn = database.connect();
  PGconn* pg = conn.native();

  const std::int64_t low = push(pg, "q", "add_numbers", args(1, 1), {.priority = 5});
  const std::int64_t high = push(pg, "q", "add_numbers", args(2, 3), {.priority = -5});
  push(pg, "q", "other", 1);
  push(pg, "elsewhere", "add_numbers", 1);
  const std::int64_t odd_name = push(pg, "q", "mail:send.v2-x_y", 1);

  const std::vector<ClaimedTask> claimed =
      pop(pg, "q", {"add_numbers", "mail:send.v2-x_y"}, 10, "w");
  REQUIRE(claimed.size() == 3);
  CHECK(claimed[0].id == high);
  CHECK(claimed[0].task == "add_numbers");
  CHECK(claimed[0].args_json == "[2, 3]");
  CHECK(claimed[0].attempt == 1);
  CHECK(claimed[0].max_attempts == 5);
  CHECK(claimed[0].claim != 0);
  CHECK(claimed[1].id == odd_name);
  CHECK(claimed[2].id == low);

  CHECK(pop(pg, "q", {"add_numbers"}, 10, "w").empty());
  CHECK(pop(pg, "q", {}, 10, "w").empty());
  CHECK(pop(pg, "q", {"other"}, 0, "w").empty());
  CHECK(pop(pg, "q", {"other"}, 10, "w").size() == 1);
}

TEST_CASE("complete is fenced by the claim") {
  test::TestDatabase database;
  db::Connection conn = database.connect();
  PGconn* pg = conn.native();
  const std::int64_t id = push(pg, "q", "add_numbers", 2, 3);
  const ClaimedTask task = pop_one(conn, "q", "add_numbers");

  CHECK(complete(pg, task, R"({"sum":5})"));
  CHECK_FALSE(complete(pg, task, R"({"sum":6})"));
  CHECK_FALSE(fail(pg, task, "too late"));
  CHECK(field(conn, id, "state") == "succeeded");
  CHECK(field(conn, id, "result") == R"({"sum": 5})");
  CHECK(field(conn, id, "errors") == "[]");
}

TEST_CASE("after a lease expires and tick rescues the task the old claim changes nothing") {
  test::TestDatabase database;
  db::Connection conn = database.connect();
  PGconn* pg = conn.native();
  const std::int64_t id = push(pg, "q", "slow", 1);

  const ClaimedTask lost = pop_one(conn, "q", "slow", 1s);
  // The shortest lease is 1 second: expire it by moving it into the past.
  test::query(conn, "UPDATE pgtq.live_tasks SET locked_until = now() - interval '1 second'");
  const db::Result tick = conn.run_script("SELECT * FROM pgtq.tick()");
  CHECK(tick.string(0, 1) == "1"); // rescued

  CHECK_FALSE(complete(pg, lost, "1"));
  CHECK_FALSE(snooze(pg, lost, 0s));
  CHECK(heartbeat(pg, {lost}) == std::vector<std::int64_t>{id});
  CHECK(field(conn, id, "state") == "queued");
  CHECK(field(conn, id, "result") == "<null>");
  CHECK(field(conn, id, "attempts") == "1");
  CHECK(field(conn, id, "last_error LIKE 'lease expired: worker worker-1%'") == "true");
  CHECK(field(conn, id, "jsonb_array_length(errors)") == "1");

  const ClaimedTask again = pop_one(conn, "q", "slow");
  CHECK(again.id == id);
  CHECK(again.claim != lost.claim);
  CHECK(again.attempt == 2);
  CHECK_FALSE(complete(pg, lost, "1"));
  CHECK(field(conn, id, "state") == "running");
  CHECK(complete(pg, again, "2"));
  CHECK(field(conn, id, "result") == "2");
}

TEST_CASE("retries exhaust to failed and keep every attempt's error") {
  test::TestDatabase database;
  db::Connection conn = database.connect();
  PGconn* pg = conn.native();
  const std::int64_t id = push(pg, "q", "flaky", args(), {.max_attempts = 3});

  for (int attempt = 1; attempt <= 3; ++attempt) {
    CAPTURE(attempt);
    const ClaimedTask task = pop_one(conn, "q", "flaky");
    CHECK(task.attempt == attempt);
    CHECK(fail(pg, task, "boom " + std::to_string(attempt), 0s));
    CHECK(field(conn, id, "state") == (attempt < 3 ? "queued" : "failed"));
  }
  CHECK(pop(pg, "q", {"flaky"}, 1, "w").empty());
  CHECK(field(conn, id, "attempts") == "3");
  CHECK(field(conn, id, "last_error") == "boom 3");
  CHECK(field(conn, id, "finished_at IS NOT NULL") == "true");
  const db::Result errors = conn.run_script(
      "SELECT e->>'attempt', e->>'error', e ? 'at' FROM pgtq.tasks, jsonb_array_elements(errors) e "
      "WHERE id = " +
      std::to_string(id));
  REQUIRE(errors.rows() == 3);
  for (int i = 0; i < 3; ++i) {
    CHECK(errors.string(i, 0) == std::to_string(i + 1));
    CHECK(errors.string(i, 1) == "boom " + std::to_string(i + 1));
    CHECK(errors.string(i, 2) == "t");
  }
}

TEST_CASE("fail without retry_in backs off, a retry_in schedules the next run") {
  test::TestDatabase database;
  db::Connection conn = database.connect();
  PGconn* pg = conn.native();
  const std::int64_t id = push(pg, "q", "t", 1);

  SUBCASE("backoff") {
    CHECK(fail(pg, pop_one(conn, "q", "t"), "transient"));
    CHECK(field(conn, id, "state") == "scheduled");
    // At least 0.8 s (1 s - 20 % jitter) after the failure was recorded.
    CHECK(field(conn, id, "run_at >= (errors->0->>'at')::timestamptz + interval '0.79 s'") ==
          "true");
  }
  SUBCASE("explicit") {
    CHECK(fail(pg, pop_one(conn, "q", "t"), "transient", 1h));
    CHECK(field(conn, id, "state") == "scheduled");
    CHECK(field(conn, id, "run_at > now() + interval '59 minutes'") == "true");
  }
}

TEST_CASE("a permanent failure ends the task whatever attempts are left") {
  test::TestDatabase database;
  db::Connection conn = database.connect();
  PGconn* pg = conn.native();
  const std::int64_t id = push(pg, "q", "t", args(), {.max_attempts = 10});

  CHECK(fail(pg, pop_one(conn, "q", "t"), "bad input: \"x\"", std::nullopt, true));
  CHECK(field(conn, id, "state") == "failed");
  CHECK(field(conn, id, "attempts") == "1");
  CHECK(field(conn, id, "last_error") == "bad input: \"x\"");
  CHECK(field(conn, id, "errors->0->>'error'") == "bad input: \"x\"");
  CHECK(pop(pg, "q", {"t"}, 1, "w").empty());
}

TEST_CASE("snooze gives the attempt back") {
  test::TestDatabase database;
  db::Connection conn = database.connect();
  PGconn* pg = conn.native();
  const std::int64_t id = push(pg, "q", "t", args(), {.max_attempts = 1});

  SUBCASE("run again now") {
    const ClaimedTask first = pop_one(conn, "q", "t");
    CHECK(snooze(pg, first, 0s));
    CHECK_FALSE(snooze(pg, first, 0s));
    CHECK(field(conn, id, "state") == "queued");
    CHECK(field(conn, id, "attempts") == "0");
    const ClaimedTask second = pop_one(conn, "q", "t");
    CHECK(second.attempt == 1);
    CHECK(complete(pg, second));
    CHECK(field(conn, id, "state") == "succeeded");
    CHECK(field(conn, id, "errors") == "[]");
  }
  SUBCASE("run again later") {
    CHECK(snooze(pg, pop_one(conn, "q", "t"), 10min));
    CHECK(field(conn, id, "state") == "scheduled");
    CHECK(field(conn, id, "attempts") == "0");
    CHECK(field(conn, id, "run_at > now() + interval '9 minutes'") == "true");
  }
}

TEST_CASE("heartbeat extends leases and names the tasks to stop") {
  test::TestDatabase database;
  db::Connection conn = database.connect();
  PGconn* pg = conn.native();
  const std::int64_t keep = push(pg, "q", "t", 1);
  const std::int64_t stop = push(pg, "q", "t", 2);
  const std::vector<ClaimedTask> tasks = pop(pg, "q", {"t"}, 2, "w", 2s);
  REQUIRE(tasks.size() == 2);

  CHECK(heartbeat(pg, tasks, 1h).empty());
  CHECK(field(conn, keep, "locked_until > now() + interval '59 minutes'") == "true");

  CHECK(cancel(pg, stop));
  CHECK(field(conn, stop, "state") == "running");
  CHECK(heartbeat(pg, tasks, 1h) == std::vector<std::int64_t>{stop});

  // A cancelled task that fails ends cancelled, not retried.
  CHECK(fail(pg, tasks[1], "stopped on request", 0s));
  CHECK(field(conn, stop, "state") == "cancelled");
  CHECK(heartbeat(pg, tasks, 1h) == std::vector<std::int64_t>{stop});
  CHECK(heartbeat(pg, {}, 1h).empty());
}

// The documented rule (README, "Cancelling" under administration): cancellation is a request; a
// handler that ignores it and succeeds has done the work, and the task ends succeeded with its
// result.
TEST_CASE("a running task whose cancellation was ignored and which then succeeds ends "
          "succeeded") {
  test::TestDatabase database;
  db::Connection conn = database.connect();
  PGconn* pg = conn.native();
  const std::int64_t id = push(pg, "q", "t", 1);
  const std::vector<ClaimedTask> tasks = pop(pg, "q", {"t"}, 1, "w");
  REQUIRE(tasks.size() == 1);
  CHECK(cancel(pg, id));
  CHECK(complete(pg, tasks[0], "\"done anyway\""));
  CHECK(field(conn, id, "state") == "succeeded");
  CHECK(field(conn, id, "result") == "\"done anyway\"");
}

TEST_CASE("cancel ends a waiting task at once and reports unknown or finished ones") {
  test::TestDatabase database;
  db::Connection conn = database.connect();
  PGconn* pg = conn.native();
  const std::int64_t queued = push(pg, "q", "t", 1);
  const std::int64_t scheduled = push(pg, "q", "t", args(2), {.delay = 1h});

  CHECK(cancel(pg, queued));
  CHECK(cancel(pg, scheduled));
  CHECK(field(conn, queued, "state") == "cancelled");
  CHECK(field(conn, scheduled, "state") == "cancelled");
  CHECK(field(conn, queued, "finished_at IS NOT NULL") == "true");
  CHECK_FALSE(cancel(pg, queued));
  CHECK_FALSE(cancel(pg, 999999));
  CHECK(pop(pg, "q", {"t"}, 10, "w").empty());
}

TEST_CASE("release gives tasks back with their attempt") {
  test::TestDatabase database;
  db::Connection conn = database.connect();
  PGconn* pg = conn.native();
  const std::int64_t id = push(pg, "q", "t", 1);
  const ClaimedTask task = pop_one(conn, "q", "t");

  CHECK(release(pg, {task}) == 1);
  CHECK(release(pg, {task}) == 0);
  CHECK(field(conn, id, "state") == "queued");
  CHECK(field(conn, id, "attempts") == "0");
  CHECK_FALSE(complete(pg, task));
}

TEST_CASE("release ends a task whose cancellation was requested as cancelled") {
  test::TestDatabase database;
  db::Connection conn = database.connect();
  PGconn* pg = conn.native();
  const std::int64_t id = push(pg, "q", "t", 1);
  const ClaimedTask task = pop_one(conn, "q", "t");
  CHECK(cancel(pg, id)); // running: only asked to stop

  CHECK(release(pg, {task}) == 1);
  CHECK(field(conn, id, "state") == "cancelled");
  CHECK(field(conn, id, "finished_at IS NOT NULL") == "true");
  CHECK(pop(pg, "q", {"t"}, 10, "w").empty());
}

TEST_CASE("pop returns a batch in claim order whatever the rows' physical order") {
  test::TestDatabase database;
  db::Connection conn = database.connect();
  PGconn* pg = conn.native();
  std::vector<std::int64_t> expected;
  for (int i = 0; i < 50; ++i) {
    expected.push_back(push(pg, "q", "t", args(i), {.priority = 50 - i}));
  }
  // Rewrite the rows so that heap order differs from claim order.
  test::query(conn, "UPDATE pgtq.live_tasks SET args = args WHERE id % 3 = 0");
  const std::vector<ClaimedTask> claimed = pop(pg, "q", {"t"}, 50, "w");
  REQUIRE(claimed.size() == 50);
  for (std::size_t i = 0; i < claimed.size(); ++i) {
    CHECK(claimed[i].id == expected[expected.size() - 1 - i]);
  }
}

TEST_CASE(
    "without any pgtqd, pop still gets delayed tasks, retries and tasks whose lease expired") {
  test::TestDatabase database;
  db::Connection conn = database.connect();
  PGconn* pg = conn.native();
  // Nobody calls pgtq.tick() here: pop does the scheduler's work itself.
  const std::int64_t id = push(pg, "q", "t", json("[]"), {.delay = 1s, .max_attempts = 5});
  CHECK(pop(pg, "q", {"t"}, 1, "w").empty());
  std::vector<ClaimedTask> got;
  const auto pop_eventually = [&] {
    return test::eventually([&] { return !(got = pop(pg, "q", {"t"}, 1, "w", 1s)).empty(); }, 30s);
  };
  REQUIRE(pop_eventually());
  CHECK(got[0].id == id);
  CHECK(got[0].attempt == 1);

  CHECK(fail(pg, got[0], "again in a second", 1s));
  CHECK(field(conn, id, "state") == "scheduled");
  REQUIRE(pop_eventually());
  CHECK(got[0].attempt == 2);

  // This worker goes silent: its 1-second lease runs out and pop rescues the task.
  REQUIRE(pop_eventually());
  CHECK(got[0].attempt == 3);
  CHECK(field(conn, id, "last_error LIKE 'lease expired: worker w%'") == "true");
  CHECK(complete(pg, got[0], "1"));
  CHECK(field(conn, id, "state") == "succeeded");
}

TEST_CASE("pop and its outcomes run read committed in a database whose default is serializable") {
  test::TestDatabase database;
  {
    db::Connection admin = database.connect();
    test::query(admin,
                "ALTER DATABASE \"" + database.name() +
                    "\" SET default_transaction_isolation = 'serializable'");
  }
  db::Connection conn = database.connect();
  REQUIRE(test::scalar(conn, "SHOW default_transaction_isolation") == "serializable");
  constexpr int k_tasks = 400;
  std::vector<TaskSpec> tasks(k_tasks, TaskSpec{"t", json("[]")});
  REQUIRE(push_many(conn.native(), "q", tasks).size() == k_tasks);

  std::atomic<int> errors{0};
  std::vector<std::thread> workers;
  for (int w = 0; w < 6; ++w) {
    workers.emplace_back([&, w] {
      db::Connection own = database.connect();
      PGconn* pg = own.native();
      try {
        for (;;) {
          const std::vector<ClaimedTask> claimed = pop(pg, "q", {"t"}, 2, "w" + std::to_string(w));
          if (claimed.empty()) {
            return;
          }
          for (std::size_t i = 0; i < claimed.size(); ++i) {
            if (i == 0) {
              complete(pg, claimed[i], "1");
            } else {
              snooze(pg, claimed[i], 0s); // back to the queue, claimed again later
            }
          }
        }
      } catch (const Error&) {
        ++errors;
      }
    });
  }
  for (std::thread& worker : workers) {
    worker.join();
  }
  CHECK(errors == 0);
  CHECK(test::count(conn,
                    "SELECT count(*) FROM pgtq.tasks WHERE state = 'succeeded' AND attempts = 1") ==
        k_tasks);
}
