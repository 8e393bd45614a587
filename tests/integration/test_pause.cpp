// Pausing a queue (sql/schema/11_queues.sql): pushes are accepted and wait, no claim hands
// out a task of the queue (pgtq.claim, pgtq.pop, pgtqd), a task already running finishes, and
// resuming wakes the daemon at once.
#include "pgtq/client.hpp"
#include "support/daemon_process.hpp"
#include "support/sql.hpp"
#include "support/task_state.hpp"
#include "support/test_database.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

using namespace pgtq;
using namespace pgtq::test;

TEST_CASE("a paused queue takes pushes but hands out nothing until it is resumed") {
  TestDatabase database;
  db::Connection conn = database.connect();
  PGconn* pg = conn.native();
  push(pg, "q", "t", 1);
  push(pg, "other", "t", 2);

  CHECK(pause(pg, "q"));
  CHECK_FALSE(pause(pg, "q"));
  const std::int64_t while_paused = push(pg, "q", "t", 3);
  CHECK(pop(pg, "q", {"t"}, 10, "w").empty());
  CHECK(count(conn, "SELECT count(*) FROM pgtq.claim('q', '{t}', 10, 'w')") == 0);
  CHECK(pop(pg, "other", {"t"}, 10, "w").size() == 1); // other queues go on
  CHECK(scalar(conn, "SELECT paused::text FROM pgtq.queues WHERE queue = 'q'") == "true");

  CHECK(resume(pg, "q"));
  CHECK_FALSE(resume(pg, "q"));
  CHECK_FALSE(resume(pg, "never_paused"));
  const std::vector<ClaimedTask> claimed = pop(pg, "q", {"t"}, 10, "w");
  REQUIRE(claimed.size() == 2);
  CHECK(claimed[1].id == while_paused);
}

TEST_CASE("pausing a queue lets its running task finish, stops pgtqd claiming, and resuming "
          "wakes it at once") {
  TestDatabase database;
  db::Connection conn = database.connect();
  // A poll interval of 10 minutes: only the resume's wake-up can start the waiting task soon.
  DaemonProcess daemon({.dsn = database.dsn(), .extra_args = {"--poll-interval", "600"}});
  REQUIRE_MESSAGE(daemon.wait_for_log("listening as", 20s), daemon.log());
  const std::string running = scalar(conn, "SELECT pgtq.push('default', 'sleep', '[1]')");
  REQUIRE_MESSAGE(reaches(conn, running, "running", 10s), daemon.log());

  CHECK(scalar(conn, "SELECT pgtq.pause('default')") == "t");
  const std::string waiting = scalar(conn, "SELECT pgtq.push('default', 'add_numbers', '[1, 2]')");
  CHECK_MESSAGE(reaches(conn, running, "succeeded", 10s), daemon.log());
  std::this_thread::sleep_for(1s);
  CHECK(field(conn, "state", waiting) == "queued");

  CHECK(scalar(conn, "SELECT pgtq.resume('default')") == "t");
  CHECK_MESSAGE(reaches(conn, waiting, "succeeded", 5s), daemon.log());
}

TEST_CASE("with three pgtqd serving a busy queue, no task starts once pause has returned, the "
          "running ones finish, and claims start again within 2 s of resume") {
  TestDatabase database;
  db::Connection conn = database.connect();
  query(conn, "SELECT count(pgtq.push('default', 'sleep', '[0.2]')) FROM generate_series(1, 400)");
  std::vector<std::unique_ptr<DaemonProcess>> daemons;
  for (int i = 0; i < 3; ++i) {
    daemons.push_back(std::make_unique<DaemonProcess>(
        DaemonProcess::Options{.dsn = database.dsn(), .extra_args = {"--concurrency", "4"}}));
  }
  const auto logs = [&] {
    std::string text;
    for (const auto& daemon : daemons) {
      text += daemon->log();
    }
    return text;
  };
  // All three at work.
  REQUIRE_MESSAGE(eventually(
                      [&] {
                        return count(conn,
                                     "SELECT count(DISTINCT locked_by) FROM pgtq.live_tasks "
                                     "WHERE state = 'running'") == 3;
                      },
                      30s),
                  logs());

  query(conn, "SELECT pgtq.pause('default')");
  const std::string paused_at = scalar(conn, "SELECT clock_timestamp()");
  std::this_thread::sleep_for(5s);
  // A claim statement whose snapshot is older than the pause may still take tasks a moment
  // later (half a second allows for a loaded machine); no later claim takes any.
  CHECK(count(conn,
              "SELECT count(*) FROM pgtq.tasks "
              "WHERE started_at > $1::timestamptz + interval '0.5 seconds'",
              {paused_at}) == 0);
  // What was running then has finished; tasks held ahead of the workers ran too.
  CHECK(count(conn, "SELECT count(*) FROM pgtq.live_tasks WHERE state = 'running'") == 0);
  const long long waiting = count(conn, "SELECT count(*) FROM pgtq.live_tasks");
  CHECK(waiting > 0);

  query(conn, "SELECT pgtq.resume('default')");
  const std::string resumed_at = scalar(conn, "SELECT clock_timestamp()");
  CHECK_MESSAGE(eventually(
                    [&] {
                      return count(conn,
                                   "SELECT count(*) FROM pgtq.tasks WHERE started_at > "
                                   "$1::timestamptz",
                                   {resumed_at}) > 0;
                    },
                    2s),
                logs());
}
