// Waiting for a task to end (sql/schema/19_task_waits.sql, client/waits.hpp, pgtqctl wait):
// woken by pgtq_ended when the task ends however it ends, never missing an end that was in
// progress while the waiter registered, and leaving nothing behind on the connection.
#include "pgtq/client.hpp"
#include "support/ctl_process.hpp"
#include "support/daemon_process.hpp"
#include "support/sql.hpp"
#include "support/task_state.hpp"
#include "support/test_database.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <future>
#include <thread>
#include <vector>

using namespace pgtq;
using namespace pgtq::test;

namespace {

// Waits for task id on a connection of its own, in another thread.
std::future<std::optional<TaskStatus>>
wait_in_background(TestDatabase& database, std::int64_t id, std::chrono::milliseconds timeout) {
  return std::async(std::launch::async, [&database, id, timeout] {
    db::Connection waiter = database.connect();
    return wait_for_task(waiter.native(), id, timeout);
  });
}

// Until the waiter's registration is committed (it then reads the task).
bool registered(db::Connection& connection, std::int64_t id) {
  return eventually(
      [&] {
        return count(connection,
                     "SELECT count(*) FROM pgtq.task_waiters WHERE task_id = $1",
                     {std::to_string(id)}) == 1;
      },
      10s);
}

} // namespace

TEST_CASE("waiting for a 200 ms task run by pgtqd returns its result within 50 ms of its end") {
  TestDatabase database;
  db::Connection connection = database.connect();
  DaemonProcess daemon({.dsn = database.dsn(), .extra_args = {"--poll-interval", "600"}});
  REQUIRE(daemon.wait_for_log("listening as", 10s));
  db::Connection waiter = database.connect();
  std::vector<double> lags_ms;
  for (int run = 0; run < 5; ++run) {
    const std::int64_t id = push(connection.native(), "default", "sleep", 0.2);
    const std::optional<TaskStatus> status = wait_for_task(waiter.native(), id, 10s);
    // The server's clock, read at once: how long after the task's end the waiter had it.
    const double lag_ms =
        std::stod(scalar(connection,
                         "SELECT extract(epoch FROM clock_timestamp() - finished_at) * 1000"
                         " FROM pgtq.finished_tasks WHERE id = $1",
                         {std::to_string(id)}));
    REQUIRE_MESSAGE(status.has_value(), daemon.log());
    CHECK(status->ended());
    CHECK(status->state == "succeeded");
    REQUIRE(status->result.has_value());
    CHECK(status->result->text() == "0.2");
    CHECK(status->attempts == 1);
    CHECK(status->finished_at.has_value());
    lags_ms.push_back(lag_ms);
  }
  std::sort(lags_ms.begin(), lags_ms.end());
  MESSAGE("end-to-result lag, median of 5: " << lags_ms[2] << " ms (max " << lags_ms[4] << ")");
  CHECK(lags_ms[2] < 50);
  // The wait took back its LISTEN and its registration.
  CHECK(scalar(waiter, "SELECT count(*) FROM pg_listening_channels()") == "0");
  CHECK(count(connection, "SELECT count(*) FROM pgtq.task_waiters") == 0);
}

TEST_CASE("a wait sees an end committed while it registered: the end's transaction is waited "
          "for, in READ COMMITTED and in REPEATABLE READ") {
  TestDatabase database;
  db::Connection admin = database.connect();
  PGconn* pg = admin.native();

  SUBCASE("the task's row was already deleted, uncommitted, when the waiter read it") {
    const std::int64_t id = push(pg, "q", "t", 1);
    query(admin, "BEGIN");
    REQUIRE(cancel(pg, id)); // queued: ends cancelled now; its notify saw no waiter
    auto waited = wait_in_background(database, id, 20s);
    db::Connection observer = database.connect();
    REQUIRE(registered(observer, id));
    std::this_thread::sleep_for(200ms); // the waiter is blocked reading the row
    CHECK(waited.wait_for(0ms) == std::future_status::timeout);
    query(admin, "COMMIT");
    REQUIRE(waited.wait_for(5s) == std::future_status::ready);
    const std::optional<TaskStatus> status = waited.get();
    REQUIRE(status.has_value());
    CHECK(status->state == "cancelled");
  }

  SUBCASE("a REPEATABLE READ transaction whose snapshot predates the registration") {
    const std::int64_t id = push(pg, "q", "t", 1);
    query(admin, "BEGIN ISOLATION LEVEL REPEATABLE READ");
    query(admin, "SELECT count(*) FROM pgtq.task_waiters"); // takes the snapshot: none
    auto waited = wait_in_background(database, id, 20s);
    db::Connection observer = database.connect();
    REQUIRE(registered(observer, id));
    std::this_thread::sleep_for(100ms); // the waiter has read the task live and sleeps
    REQUIRE(cancel(pg, id));
    query(admin, "COMMIT");
    REQUIRE(waited.wait_for(5s) == std::future_status::ready);
    const std::optional<TaskStatus> status = waited.get();
    REQUIRE(status.has_value());
    CHECK(status->state == "cancelled");
  }
}

TEST_CASE("every way a task ends or goes wakes its waiter: outcome, rescue, release, cancel, "
          "delete") {
  TestDatabase database;
  db::Connection admin = database.connect();
  PGconn* pg = admin.native();
  const auto claim_one = [&](const std::string& task) {
    std::vector<ClaimedTask> claimed = pop(pg, "q", {task}, 1, "w");
    REQUIRE(claimed.size() == 1);
    return claimed[0];
  };
  const auto ended_as = [&](std::int64_t id, const std::function<void()>& end) {
    auto waited = wait_in_background(database, id, 20s);
    REQUIRE(registered(admin, id));
    std::this_thread::sleep_for(50ms);
    end();
    REQUIRE(waited.wait_for(5s) == std::future_status::ready);
    return waited.get();
  };

  SUBCASE("a recorded failure, with its error") {
    const std::int64_t id = push(pg, "q", "t", args(1), {.max_attempts = 1});
    const ClaimedTask task = claim_one("t");
    const auto status = ended_as(id, [&] { REQUIRE(fail(pg, task, "boom")); });
    REQUIRE(status.has_value());
    CHECK(status->state == "failed");
    CHECK(status->last_error == "boom");
    CHECK_FALSE(status->result.has_value());
  }
  SUBCASE("a lease that expired on the last attempt (pgtq.tick)") {
    const std::int64_t id = push(pg, "q", "t", args(1), {.max_attempts = 1});
    claim_one("t");
    const auto status = ended_as(id, [&] {
      query(admin,
            "UPDATE pgtq.live_tasks SET locked_until = now() - interval '1 second'"
            " WHERE id = $1",
            {std::to_string(id)});
      REQUIRE(scalar(admin, "SELECT failed FROM pgtq.tick()") == "1");
    });
    REQUIRE(status.has_value());
    CHECK(status->state == "failed");
    CHECK(status->last_error->find("lease expired") != std::string::npos);
  }
  SUBCASE("a cancelled running task given back (pgtq.release)") {
    const std::int64_t id = push(pg, "q", "t", 1);
    const ClaimedTask task = claim_one("t");
    REQUIRE(cancel(pg, id)); // asked to stop: still running
    const auto status = ended_as(id, [&] {
      query(admin,
            "SELECT pgtq.release(ARRAY[$1]::bigint[], ARRAY[$2]::bigint[])",
            {std::to_string(id), std::to_string(task.claim)});
    });
    REQUIRE(status.has_value());
    CHECK(status->state == "cancelled");
  }
  SUBCASE("cancel_all") {
    const std::int64_t id = push(pg, "q", "t", args(1), {.delay = std::chrono::hours(1)});
    const auto status = ended_as(id, [&] {
      query(admin,
            "SELECT pgtq.cancel_all(queue => 'q', states => "
            "'{scheduled}')");
    });
    REQUIRE(status.has_value());
    CHECK(status->state == "cancelled");
  }
  SUBCASE("delete: the task is gone") {
    const std::int64_t id = push(pg, "q", "t", 1);
    const auto status = ended_as(id, [&] { REQUIRE(delete_task(pg, id)); });
    CHECK_FALSE(status.has_value());
  }
  SUBCASE("delete_all: the task is gone") {
    const std::int64_t id = push(pg, "q", "t", 1);
    const auto status = ended_as(id, [&] {
      DeleteFilter filter;
      filter.states = {"queued"};
      REQUIRE(delete_all(pg, filter) == 1);
    });
    CHECK_FALSE(status.has_value());
  }
  SUBCASE("a retry is no end: the wait goes on to the success after it") {
    const std::int64_t id = push(pg, "q", "t", 1);
    const ClaimedTask first = claim_one("t");
    auto waited = wait_in_background(database, id, 20s);
    REQUIRE(registered(admin, id));
    REQUIRE(fail(pg, first, "again", std::chrono::microseconds(0)));
    std::this_thread::sleep_for(100ms);
    CHECK(waited.wait_for(0ms) == std::future_status::timeout);
    const ClaimedTask second = claim_one("t");
    REQUIRE(complete(pg, second, json(R"({"ok": true})")));
    REQUIRE(waited.wait_for(5s) == std::future_status::ready);
    const auto status = waited.get();
    REQUIRE(status.has_value());
    CHECK(status->state == "succeeded");
    CHECK(status->result->text() == R"({"ok": true})");
    CHECK(status->attempts == 2);
  }
}

TEST_CASE("a wait that times out returns the task still live, and an unknown id returns nothing") {
  TestDatabase database;
  db::Connection connection = database.connect();
  PGconn* pg = connection.native();
  const std::int64_t id = push(pg, "q", "t", 1);
  const auto started = std::chrono::steady_clock::now();
  const std::optional<TaskStatus> status = wait_for_task(pg, id, 300ms);
  CHECK(std::chrono::steady_clock::now() - started >= 300ms);
  REQUIRE(status.has_value());
  CHECK(status->state == "queued");
  CHECK_FALSE(status->ended());
  CHECK_FALSE(wait_for_task(pg, id + 1000, 5s).has_value());
  CHECK(wait_for_task(pg, id, 0ms)->state == "queued");

  // Refused before anything is sent: in a transaction, a negative timeout.
  query(connection, "BEGIN");
  try {
    wait_for_task(pg, id, 1s);
    FAIL("no error inside a transaction");
  } catch (const Error& error) {
    CHECK(error.sqlstate() == "25001");
  }
  query(connection, "ROLLBACK");
  try {
    wait_for_task(pg, id, -1ms);
    FAIL("no error for a negative timeout");
  } catch (const Error& error) {
    CHECK(error.sqlstate() == "22023");
  }
  CHECK(count(connection, "SELECT count(*) FROM pgtq.task_waiters") == 0);
}

TEST_CASE(
    "pgtq.wait waits from plain SQL, and registrations of ended sessions are removed by tick") {
  TestDatabase database;
  db::Connection connection = database.connect();
  PGconn* pg = connection.native();
  const std::int64_t id = push(pg, "q", "t", 1);
  const std::vector<ClaimedTask> claimed = pop(pg, "q", {"t"}, 1, "w");
  REQUIRE(claimed.size() == 1);
  auto waited = std::async(std::launch::async, [&database, id] {
    db::Connection waiter = database.connect();
    return scalar(waiter,
                  "SELECT state || ' ' || result::text FROM pgtq.wait($1, '20 seconds')",
                  {std::to_string(id)});
  });
  std::this_thread::sleep_for(200ms);
  CHECK(waited.wait_for(0ms) == std::future_status::timeout);
  REQUIRE(complete(pg, claimed[0], json("[7]")));
  REQUIRE(waited.wait_for(5s) == std::future_status::ready);
  CHECK(waited.get() == "succeeded [7]");

  const std::int64_t live = push(pg, "q", "t", 1);
  CHECK(scalar(connection,
               "SELECT state FROM pgtq.wait($1, '50 milliseconds')",
               {std::to_string(live)}) == "queued");
  CHECK(count(connection, "SELECT count(*) FROM pgtq.wait(-5, '1 second')") == 0);

  std::string gone_pid;
  {
    db::Connection gone = database.connect();
    gone_pid = scalar(gone, "SELECT pg_backend_pid()");
    query(gone, "SELECT pgtq.watch_task($1)", {std::to_string(live)});
  }
  REQUIRE(eventually(
      [&] {
        return count(connection,
                     "SELECT count(*) FROM pg_stat_activity WHERE pid = $1",
                     {gone_pid}) == 0;
      },
      10s));
  query(connection, "SELECT pgtq.tick()");
  CHECK(count(connection, "SELECT count(*) FROM pgtq.task_waiters") == 0);
}

TEST_CASE(
    "pgtqctl wait prints the result, and its exit code says succeeded, failed or still live") {
  TestDatabase database;
  db::Connection connection = database.connect();
  PGconn* pg = connection.native();
  const std::int64_t ok = push(pg, "q", "t", 1);
  const std::int64_t bad = push(pg, "q", "u", args(1), {.max_attempts = 1});
  const std::int64_t waiting = push(pg, "q", "v", 1);
  std::vector<ClaimedTask> claimed = pop(pg, "q", {"t", "u"}, 2, "w");
  REQUIRE(claimed.size() == 2);
  for (const ClaimedTask& task : claimed) {
    if (task.id == ok) {
      REQUIRE(complete(pg, task, json(R"({"sum": 3})")));
    } else {
      REQUIRE(fail(pg, task, "no such user"));
    }
  }
  const Run succeeded = pgtqctl(database.dsn(), {"wait", std::to_string(ok)});
  CHECK(succeeded.exit_code == 0);
  CHECK(succeeded.output.find("succeeded after 1 attempt(s)") != std::string::npos);
  CHECK(succeeded.output.find(R"(result: {"sum": 3})") != std::string::npos);
  const Run failed = pgtqctl(database.dsn(), {"wait", std::to_string(bad)});
  CHECK(failed.exit_code == 1);
  CHECK(failed.output.find("last error: no such user") != std::string::npos);
  const Run live = pgtqctl(database.dsn(), {"wait", std::to_string(waiting), "--timeout", "0"});
  CHECK(live.exit_code == 75);
  CHECK(live.output.find("still queued") != std::string::npos);
  const Run unknown = pgtqctl(database.dsn(), {"wait", "999999"});
  CHECK(unknown.exit_code == 1);
  CHECK(unknown.output.find("no such task") != std::string::npos);
  CHECK(pgtqctl(database.dsn(), {"wait", std::to_string(ok), "--timeout", "-1"}).exit_code == 64);
}

TEST_CASE("a waiter's read of a task holds back no claim, heartbeat or promotion of it") {
  TestDatabase database;
  db::Connection waiter = database.connect();
  db::Connection worker = database.connect();
  PGconn* pg = worker.native();
  const std::int64_t queued = push(pg, "q", "t", 1);
  const std::int64_t later = push(pg, "q", "t", args(2), {.delay = std::chrono::hours(1)});
  // task_status's lock, held as long as a transaction lasts (the client never does this).
  query(waiter, "BEGIN");
  REQUIRE(scalar(waiter, "SELECT state FROM pgtq.task_status($1)", {std::to_string(queued)}) ==
          "queued");
  REQUIRE(scalar(waiter, "SELECT state FROM pgtq.task_status($1)", {std::to_string(later)}) ==
          "scheduled");
  const std::vector<ClaimedTask> claimed = pop(pg, "q", {"t"}, 10, "w");
  REQUIRE(claimed.size() == 1);
  CHECK(claimed[0].id == queued);
  query(waiter, "COMMIT");
  query(waiter, "BEGIN");
  REQUIRE(scalar(waiter, "SELECT state FROM pgtq.task_status($1)", {std::to_string(queued)}) ==
          "running");
  CHECK(scalar(worker,
               "SELECT status FROM pgtq.heartbeat(ARRAY[$1]::bigint[], ARRAY[$2]::bigint[],"
               " '1 minute')",
               {std::to_string(queued), std::to_string(claimed[0].claim)}) == "renewed");
  query(worker, "UPDATE pgtq.live_tasks SET run_at = now() WHERE id = $1", {std::to_string(later)});
  CHECK(scalar(worker, "SELECT promoted FROM pgtq.tick()") == "1");
  query(waiter, "COMMIT");
}

TEST_CASE("task_status finds a task that a retry moves back from the history meanwhile") {
  TestDatabase database;
  db::Connection reader = database.connect();
  db::Connection mover = database.connect();
  PGconn* pg = mover.native();
  const std::int64_t id = push(pg, "q", "t", args(1), {.max_attempts = 1});
  std::atomic<bool> done{false};
  std::thread churn([&] {
    while (!done) {
      const std::vector<ClaimedTask> claimed = pop(pg, "q", {"t"}, 1, "w");
      if (!claimed.empty()) {
        fail(pg, claimed[0], "again");
      }
      retry(pg, id);
    }
  });
  int missing = 0;
  for (int i = 0; i < 3000; ++i) {
    if (!task_status(reader.native(), id)) {
      ++missing;
    }
  }
  done = true;
  churn.join();
  CHECK(missing == 0);
}

TEST_CASE("task_status and pgtq.wait refuse other isolation levels, and the client refuses a "
          "transaction") {
  TestDatabase database;
  db::Connection connection = database.connect();
  const std::int64_t id = push(connection.native(), "q", "t", 1);
  query(connection, "SET default_transaction_isolation = 'repeatable read'");
  const std::string id_text = std::to_string(id);
  const char* values[] = {id_text.c_str()};
  for (const char* sql :
       {"SELECT * FROM pgtq.task_status($1)", "SELECT * FROM pgtq.wait($1, '1 second')"}) {
    CAPTURE(sql);
    const db::Result result(
        PQexecParams(connection.native(), sql, 1, nullptr, values, nullptr, nullptr, 0));
    CHECK(std::string(PQresultErrorField(result.get(), PG_DIAG_SQLSTATE)) == "25000");
    CHECK(std::string(PQresultErrorMessage(result.get())).find("READ COMMITTED") !=
          std::string::npos);
  }
  query(connection, "SET default_transaction_isolation = 'read committed'");
  query(connection, "BEGIN");
  CHECK_THROWS_AS(task_status(connection.native(), id), Error);
  query(connection, "ROLLBACK");
  CHECK(task_status(connection.native(), id)->state == "queued");
}
