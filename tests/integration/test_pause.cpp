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
#include <string>
#include <thread>

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
