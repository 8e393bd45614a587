// Redrive and bulk administration (sql/schema/10_redrive.sql) through the C++ client: a
// failed task comes back with its history, bulk calls touch exactly what their filter names,
// dry runs change nothing, and a running task is never deleted.
#include "pgtq/client.hpp"
#include "support/sql.hpp"
#include "support/test_database.hpp"

#include <doctest/doctest.h>

#include <poll.h>

#include <chrono>
#include <string>

using namespace pgtq;
using namespace pgtq::test;
using namespace std::chrono_literals;

namespace {

// Pushes a task and fails it for good with error; returns its id.
std::int64_t failed_task(PGconn* pg, const std::string& queue, const std::string& error) {
  const std::int64_t id = push(pg, queue, "t", args(1), PushOptions{.max_attempts = 1});
  const std::vector<ClaimedTask> claimed = pop(pg, queue, {"t"}, 1, "w");
  REQUIRE(claimed.size() == 1);
  REQUIRE(claimed[0].id == id);
  REQUIRE(fail(pg, claimed[0], error));
  return id;
}

std::string state_of(db::Connection& conn, std::int64_t id) {
  return scalar(conn, "SELECT state::text FROM pgtq.tasks WHERE id = $1", {std::to_string(id)});
}

} // namespace

TEST_CASE("a retried task keeps its id, args and errors, gets one more attempt and runs again") {
  TestDatabase database;
  db::Connection conn = database.connect();
  PGconn* pg = conn.native();
  const std::int64_t id = failed_task(pg, "q", "boom");
  REQUIRE(state_of(conn, id) == "failed");

  CHECK(retry(pg, id));
  CHECK(state_of(conn, id) == "queued");
  CHECK(scalar(conn,
               "SELECT attempts || '/' || max_attempts || ' ' || args::text || ' ' || last_error"
               " || ' ' || jsonb_array_length(errors) FROM pgtq.tasks WHERE id = $1",
               {std::to_string(id)}) == "1/2 [1] boom 1");
  CHECK_FALSE(retry(pg, id)); // queued already
  // It runs again and can succeed: its errors stay.
  const std::vector<ClaimedTask> again = pop(pg, "q", {"t"}, 1, "w");
  REQUIRE(again.size() == 1);
  CHECK(again[0].id == id);
  CHECK(again[0].attempt == 2);
  REQUIRE(complete(pg, again[0], "7"));
  CHECK(scalar(conn,
               "SELECT state::text || ' ' || jsonb_array_length(errors) FROM pgtq.tasks"
               " WHERE id = $1",
               {std::to_string(id)}) == "succeeded 1");
  CHECK_FALSE(retry(pg, id)); // succeeded tasks are pushed again, not retried
  CHECK_FALSE(retry(pg, 987654321));

  // A retry at a later time waits as a scheduled task.
  const std::int64_t later = failed_task(pg, "q", "boom");
  CHECK(retry(pg, later, Timestamp(std::chrono::system_clock::now() + 1h)));
  CHECK(state_of(conn, later) == "scheduled");
}

TEST_CASE("retry_all retries what its filter names, at most max_count, and a dry run changes "
          "nothing") {
  TestDatabase database;
  db::Connection conn = database.connect();
  PGconn* pg = conn.native();
  const std::int64_t a = failed_task(pg, "mail", "smtp: connection refused");
  const std::int64_t b = failed_task(pg, "mail", "smtp: connection refused");
  const std::int64_t c = failed_task(pg, "mail", "bad address");
  const std::int64_t d = failed_task(pg, "other", "smtp: connection refused");
  const std::int64_t cancelled = push(pg, "mail", "t");
  REQUIRE(cancel(pg, cancelled));

  RetryFilter refused;
  refused.queue = "mail";
  refused.error_contains = "connection refused";
  CHECK(retry_all(pg, refused, true) == 2);
  CHECK(state_of(conn, a) == "failed");
  refused.max_count = 1;
  CHECK(retry_all(pg, refused) == 1);
  CHECK(state_of(conn, a) == "queued"); // oldest first
  CHECK(state_of(conn, b) == "failed");
  refused.max_count = 10000;
  CHECK(retry_all(pg, refused) == 1);
  CHECK(retry_all(pg, refused) == 0);
  CHECK(state_of(conn, c) == "failed");
  CHECK(state_of(conn, d) == "failed");

  RetryFilter by_time;
  by_time.finished_before = Timestamp(std::chrono::system_clock::now() - 1h);
  CHECK(retry_all(pg, by_time) == 0);
  by_time.finished_before.reset();
  by_time.finished_after = Timestamp(std::chrono::system_clock::now() - 1h);
  by_time.states = {"cancelled"};
  CHECK(retry_all(pg, by_time) == 1);
  CHECK(state_of(conn, cancelled) == "queued");
  CHECK(retry_all(pg, RetryFilter{}) == 2); // every failed task: c and d
  CHECK(count(conn, "SELECT count(*) FROM pgtq.tasks WHERE state = 'failed'") == 0);

  RetryFilter bad;
  bad.states = {"succeeded"};
  CHECK_THROWS_AS(retry_all(pg, bad), Error);
}

TEST_CASE("cancel_all cancels waiting tasks and asks running ones to stop, and delete refuses "
          "a running task") {
  TestDatabase database;
  db::Connection conn = database.connect();
  PGconn* pg = conn.native();
  db::Connection daemon = database.connect();
  daemon.listen("pgtq_cancel");
  const std::int64_t queued = push(pg, "q", "t");
  const std::int64_t scheduled = push(pg, "q", "t", PushOptions{.delay = 1h});
  const std::int64_t running = push(pg, "q", "r");
  const std::int64_t elsewhere = push(pg, "other", "t");
  const std::vector<ClaimedTask> claimed = pop(pg, "q", {"r"}, 1, "w");
  REQUIRE(claimed.size() == 1);

  CancelFilter everything;
  everything.queue = "q";
  everything.states = {"queued", "scheduled", "running"};
  CHECK(cancel_all(pg, everything, true) == 3);
  CHECK(state_of(conn, queued) == "queued");
  CHECK(cancel_all(pg, everything) == 3);
  CHECK(state_of(conn, queued) == "cancelled");
  CHECK(state_of(conn, scheduled) == "cancelled");
  CHECK(state_of(conn, running) == "running");
  CHECK(state_of(conn, elsewhere) == "queued");
  CHECK(cancel_all(pg, everything) == 0); // the running one was asked already
  // Its daemon hears of it at once.
  bool heard = false;
  for (int i = 0; i < 50 && !heard; ++i) {
    for (const db::Notification& note : daemon.take_notifications()) {
      heard = heard || note.payload == std::to_string(running);
    }
    pollfd socket{daemon.socket(), POLLIN, 0};
    ::poll(&socket, 1, 100);
  }
  CHECK(heard);

  try {
    delete_task(pg, running);
    FAIL("a running task was deleted");
  } catch (const Error& error) {
    CHECK(error.sqlstate() == "55000");
  }
  CHECK(state_of(conn, running) == "running");
  CHECK(delete_task(pg, queued));    // finished
  CHECK(delete_task(pg, elsewhere)); // waiting
  CHECK_FALSE(delete_task(pg, queued));
  CHECK(count(conn,
              "SELECT count(*) FROM pgtq.tasks WHERE id IN ($1, $2)",
              {std::to_string(queued), std::to_string(elsewhere)}) == 0);
}

TEST_CASE("update changes a waiting or failed task with push's rules, and refuses a running or "
          "succeeded one") {
  TestDatabase database;
  db::Connection conn = database.connect();
  PGconn* pg = conn.native();
  // A failed task's args fixed, then retried: the next attempt gets the new args.
  const std::int64_t failed = failed_task(pg, "q", "bad args");
  CHECK(update_task(pg, failed, {.args = json(R"([1, 2])"), .max_attempts = 3}));
  REQUIRE(retry(pg, failed));
  const std::vector<ClaimedTask> again = pop(pg, "q", {"t"}, 1, "w");
  REQUIRE(again.size() == 1);
  CHECK(again[0].args_json == "[1, 2]");
  CHECK(again[0].max_attempts == 3);

  const std::int64_t waiting = push(pg, "q", "t");
  CHECK(update_task(pg,
                    waiting,
                    {.priority = -5,
                     .run_at = Timestamp(std::chrono::system_clock::now() + std::chrono::hours(1)),
                     .timeout = "90 seconds"}));
  CHECK(scalar(conn,
               "SELECT state::text || ' ' || priority || ' ' || timeout::text FROM pgtq.tasks"
               " WHERE id = $1",
               {std::to_string(waiting)}) == "scheduled -5 00:01:30");
  CHECK(update_task(pg, waiting, {.run_at = Timestamp(std::chrono::system_clock::now())}));
  CHECK(state_of(conn, waiting) == "queued");
  CHECK_FALSE(update_task(pg, 987654321, {.priority = 1}));

  // Push's rules, and nothing changes when a value is refused.
  CHECK_THROWS_AS(update_task(pg, waiting, {.max_attempts = 0}), Error);
  CHECK_THROWS_AS(update_task(pg, waiting, {.args = json("[1]"), .priority = 40000}), Error);
  CHECK_THROWS_AS(update_task(pg, waiting, {.timeout = "0 seconds"}), Error);
  CHECK(scalar(conn,
               "SELECT priority::text FROM pgtq.tasks WHERE id = $1",
               {std::to_string(waiting)}) == "-5");

  // A running task, a succeeded one, and run_at of a failed one are refused with 55000.
  const std::vector<ClaimedTask> running = pop(pg, "q", {"t"}, 1, "w");
  REQUIRE(running.size() == 1);
  const auto refused = [&](std::int64_t id, const TaskChanges& changes) {
    try {
      update_task(pg, id, changes);
    } catch (const Error& error) {
      return error.sqlstate() == "55000";
    }
    return false;
  };
  CHECK(refused(running[0].id, {.priority = 1}));
  REQUIRE(complete(pg, running[0], "1"));
  CHECK(refused(running[0].id, {.priority = 1}));
  const std::int64_t failed_again = failed_task(pg, "q", "boom");
  CHECK(refused(failed_again, {.run_at = Timestamp(std::chrono::system_clock::now())}));
}

TEST_CASE("delete_all deletes what its filter names, never a running task, and its dry run "
          "counts them") {
  TestDatabase database;
  db::Connection conn = database.connect();
  PGconn* pg = conn.native();
  const std::int64_t failed = failed_task(pg, "q", "boom");
  const std::int64_t queued = push(pg, "q", "t", 1);
  const std::int64_t other_task = push(pg, "q", "u", 1);
  const std::int64_t other_queue = push(pg, "r", "t", 1);
  const std::vector<ClaimedTask> running = pop(pg, "r", {"t"}, 1, "w");
  REQUIRE(running.size() == 1);
  REQUIRE(running[0].id == other_queue);

  const DeleteFilter waiting_and_failed{.states = {"queued", "failed"}, .queue = "q"};
  CHECK(delete_all(pg, waiting_and_failed, /*dry_run=*/true) == 3);
  CHECK(delete_all(pg, {.states = {"queued"}, .queue = "q", .task = "t"}) == 1);
  CHECK(count(conn, "SELECT count(*) FROM pgtq.tasks WHERE id = $1", {std::to_string(queued)}) ==
        0);
  CHECK(delete_all(pg, {.states = {"queued", "failed"}, .max_count = 1}) == 1); // oldest first
  CHECK(state_of(conn, failed).empty());
  CHECK(state_of(conn, other_task) == "queued");
  // A running task matches no state delete_all takes, and is never deleted.
  CHECK_THROWS_AS(delete_all(pg, {.states = {"running"}}), Error);
  CHECK(delete_all(pg,
                   {.states = {"queued", "scheduled", "succeeded", "failed", "cancelled"},
                    .queue = "r"}) == 0);
  CHECK(state_of(conn, other_queue) == "running");
  // created_before: nothing pushed from now on.
  CHECK(delete_all(pg, {.states = {"queued"}, .created_before = "2000-01-01"}) == 0);
  CHECK(delete_all(pg, {.states = {"queued"}}) == 1);
  CHECK(count(conn, "SELECT count(*) FROM pgtq.tasks") == 1);
}
