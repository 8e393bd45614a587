// A queue's global concurrency limit (pgtq.set_global_concurrency, pgtq.claim): never more
// tasks running than the limit, however many claim at the same instant, and waiting workers
// learn of the room a finished task leaves without polling.
#include "db/pg_error.hpp"
#include "pgtq/client.hpp"
#include "support/daemon_process.hpp"
#include "support/sql.hpp"
#include "support/task_state.hpp"
#include "support/test_database.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

using namespace pgtq;
using namespace pgtq::test;
using namespace std::chrono_literals;

TEST_CASE("claims of a limited queue at the same instant never take more than the limit") {
  TestDatabase database;
  db::Connection conn = database.connect();
  PGconn* pg = conn.native();
  for (int i = 0; i < 30; ++i) {
    push(pg, "q", "t", i);
  }
  set_global_concurrency(pg, "q", 3);

  constexpr int k_claimers = 8;
  std::vector<db::Connection> connections;
  for (int i = 0; i < k_claimers; ++i) {
    connections.push_back(database.connect());
  }
  std::atomic<int> claimed{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < k_claimers; ++i) {
    threads.emplace_back([&, i] {
      connections[i].run_script("BEGIN");
      claimed += static_cast<int>(
          count(connections[i], "SELECT count(*) FROM pgtq.claim('q', '{t}', 10, 'w')"));
      // Each claim stays uncommitted for a while: one that did not wait its turn would count
      // none of the others' and take three of its own.
      std::this_thread::sleep_for(100ms);
      connections[i].run_script("COMMIT");
    });
  }
  for (std::thread& thread : threads) {
    thread.join();
  }
  CHECK(claimed.load() == 3);
  CHECK(running(conn, "q") == 3);

  // One ends: room for one. Other queues are not limited.
  const std::vector<ClaimedTask> more = pop(pg, "q", {"t"}, 10, "w");
  CHECK(more.empty());
  REQUIRE(query(conn,
                "SELECT pgtq.complete(id, claim) FROM pgtq.live_tasks"
                " WHERE queue = 'q' AND state = 'running' LIMIT 1")
              .rows() == 1);
  CHECK(pop(pg, "q", {"t"}, 10, "w").size() == 1);
  push(pg, "other", "t", 1);
  push(pg, "other", "t", 2);
  CHECK(pop(pg, "other", {"t"}, 10, "w").size() == 2);

  // Raised, lowered (running tasks stay), removed.
  set_global_concurrency(pg, "q", 5);
  CHECK(pop(pg, "q", {"t"}, 10, "w").size() == 2);
  set_global_concurrency(pg, "q", 1);
  CHECK(pop(pg, "q", {"t"}, 10, "w").empty());
  CHECK(running(conn, "q") == 5);
  set_global_concurrency(pg, "q", std::nullopt);
  CHECK(pop(pg, "q", {"t"}, 10, "w").size() == 10);
  CHECK_THROWS_AS(set_global_concurrency(pg, "q", 0), Error);
}

TEST_CASE("pgtqd daemons sharing a limited queue run no more than the limit at once, and are "
          "woken by the room finished tasks leave") {
  TestDatabase database;
  db::Connection conn = database.connect();
  PGconn* pg = conn.native();
  set_global_concurrency(pg, "default", 2);
  // A poll interval of 10 minutes: only wake-ups can start the tasks beyond the first two.
  std::vector<std::unique_ptr<DaemonProcess>> daemons;
  for (int i = 0; i < 2; ++i) {
    daemons.push_back(std::make_unique<DaemonProcess>(DaemonProcess::Options{
        .dsn = database.dsn(),
        .extra_args = {"--poll-interval", "600", "--concurrency", "4", "--prefetch", "0"}}));
    REQUIRE_MESSAGE(daemons.back()->wait_for_log("listening as", 20s), daemons.back()->log());
  }
  std::vector<std::int64_t> ids;
  for (int i = 0; i < 8; ++i) {
    ids.push_back(push(pg, "default", "sleep", 0.2));
  }
  long long most = 0;
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (
      std::chrono::steady_clock::now() < deadline &&
      count(conn, "SELECT count(*) FROM pgtq.tasks WHERE task = 'sleep' AND state = 'succeeded'") <
          8) {
    most = std::max(most, running(conn, "default"));
    std::this_thread::sleep_for(5ms);
  }
  CHECK(most <= 2);
  CHECK(most == 2);
  for (const std::int64_t id : ids) {
    CHECK_MESSAGE(field(conn, "state", std::to_string(id)) == "succeeded", daemons[0]->log());
  }
}

// A claimer outside READ COMMITTED would count the running tasks with its transaction's
// snapshot, taken before its turn, and miss the claims of the one before it: refused.
TEST_CASE("a claim of a limited queue outside READ COMMITTED is refused, and the limit holds") {
  TestDatabase database;
  db::Connection conn = database.connect();
  PGconn* pg = conn.native();
  push(pg, "q", "a", 1);
  push(pg, "q", "b", 2);
  set_global_concurrency(pg, "q", 1);

  db::Connection late = database.connect();
  late.run_script("BEGIN ISOLATION LEVEL REPEATABLE READ");
  CHECK(count(late, "SELECT count(*) FROM pgtq.live_tasks") == 2); // its snapshot
  CHECK(pop(pg, "q", {"a"}, 5, "w1").size() == 1);                 // committed: 1 running
  std::string refused;
  try {
    count(late, "SELECT count(*) FROM pgtq.pop('q', '{b}', 5, 'w2')");
  } catch (const std::exception& error) {
    refused = error.what();
  }
  late.run_script("ROLLBACK");
  CHECK_MESSAGE(refused.find("only in READ COMMITTED") != std::string::npos, refused);
  CHECK(running(conn, "q") == 1);
}

// pgtq.tick that ends an expired task with no attempts left (or whose cancellation was
// requested) wakes the limited queue: its room does not wait for the next poll.
TEST_CASE("a limited queue's daemon is woken when tick fails an expired task") {
  TestDatabase database;
  db::Connection conn = database.connect();
  PGconn* pg = conn.native();
  set_global_concurrency(pg, "default", 1);
  const std::string lost = push_to_default(conn, "sleep", "[0]", "1");
  // A worker that claims it and dies, with no attempt left. Its lease runs out when the test
  // says so, not after a time that a slow start of the daemon could outlast.
  REQUIRE(count(conn, "SELECT count(*) FROM pgtq.claim('default', '{sleep}', 1, 'dead', '1 h')") ==
          1);
  DaemonProcess daemon({.dsn = database.dsn(),
                        .extra_args = {"--poll-interval", "600", "--scheduler-interval", "0.1"}});
  REQUIRE_MESSAGE(daemon.wait_for_log("listening as", 20s), daemon.log());
  const std::string waiting = push_to_default(conn, "sleep", "[0]");
  std::this_thread::sleep_for(300ms); // the daemon's claim finds no room and it goes idle
  CHECK(field(conn, "state", waiting) == "queued");
  query(conn,
        "UPDATE pgtq.live_tasks SET locked_until = now() - interval '1 s' WHERE id = $1::bigint",
        {lost});
  REQUIRE_MESSAGE(reaches(conn, lost, "failed", 10s), daemon.log());
  CHECK_MESSAGE(reaches(conn, waiting, "succeeded", 5s), daemon.log()); // FAILS: queued
}

// pgtq.release that ends a task whose cancellation was requested (pgtqd: a prefetched task
// cancelled, or one given back at shutdown) wakes the limited queue.
TEST_CASE("a limited queue's daemon is woken when release cancels a task") {
  TestDatabase database;
  db::Connection conn = database.connect();
  PGconn* pg = conn.native();
  set_global_concurrency(pg, "default", 1);
  const std::string held = push_to_default(conn, "sleep", "[0]");
  const db::Result claim =
      query(conn, "SELECT id, claim FROM pgtq.claim('default', '{sleep}', 1, 'other', '1 min')");
  REQUIRE(claim.rows() == 1);
  DaemonProcess daemon({.dsn = database.dsn(), .extra_args = {"--poll-interval", "600"}});
  REQUIRE_MESSAGE(daemon.wait_for_log("listening as", 20s), daemon.log());
  const std::string waiting = push_to_default(conn, "sleep", "[0]");
  std::this_thread::sleep_for(300ms);
  CHECK(field(conn, "state", waiting) == "queued");
  CHECK(scalar(conn, "SELECT pgtq.cancel($1::bigint)", {held}) == "t");
  CHECK(scalar(conn,
               "SELECT pgtq.release(ARRAY[$1::bigint], ARRAY[$2::bigint])",
               {claim.string(0, 0), claim.string(0, 1)}) == "1");
  CHECK(field(conn, "state", held) == "cancelled");
  CHECK_MESSAGE(reaches(conn, waiting, "succeeded", 5s), daemon.log()); // FAILS: queued
}

// Without the idle registration (prepared-statements = false, the pooler setting) a limited
// queue's daemon claims again after its own task ends, not at the next poll.
TEST_CASE("behind a pooler (no prepared statements) a limited queue's daemon takes the room its "
          "own tasks leave at once") {
  TestDatabase database;
  db::Connection conn = database.connect();
  PGconn* pg = conn.native();
  set_global_concurrency(pg, "default", 1);
  DaemonProcess daemon({.dsn = database.dsn(),
                        .extra_args = {"--no-prepared-statements",
                                       "--poll-interval",
                                       "2",
                                       "--concurrency",
                                       "4",
                                       "--prefetch",
                                       "0"}});
  REQUIRE_MESSAGE(daemon.wait_for_log("listening as", 20s), daemon.log());
  for (int i = 0; i < 5; ++i) {
    push(pg, "default", "sleep", 0.01);
  }
  // Five tasks of 10 ms, one at a time: well under a second when the daemon claims the room
  // its own outcome left; about four polls (8 s) if it waited for the poll.
  CHECK_MESSAGE(eventually(
                    [&] {
                      return count(conn,
                                   "SELECT count(*) FROM pgtq.tasks"
                                   " WHERE task = 'sleep' AND state = 'succeeded'") == 5;
                    },
                    3s),
                daemon.log()); // FAILS
}

// A claim of a limited queue holds the queue's turn until its transaction ends: other claims
// do not wait for it (they get nothing), and its commit wakes them when it left room.
TEST_CASE("an open claiming transaction of a limited queue makes no claim wait, and its commit "
          "wakes pgtqd") {
  TestDatabase database;
  db::Connection conn = database.connect();
  PGconn* pg = conn.native();
  set_global_concurrency(pg, "default", 3);
  push(pg, "default", "sleep", 0);
  DaemonProcess daemon({.dsn = database.dsn(), .extra_args = {"--poll-interval", "600"}});
  REQUIRE_MESSAGE(daemon.wait_for_log("listening as", 20s), daemon.log());
  REQUIRE(eventually(
      [&] { return count(conn, "SELECT count(*) FROM pgtq.tasks WHERE state = 'succeeded'") == 1; },
      10s));

  push(pg, "default", "other_task", 0); // a name pgtqd does not run, claimed by hand below
  db::Connection holder = database.connect();
  holder.run_script("BEGIN");
  REQUIRE(count(holder, "SELECT count(*) FROM pgtq.claim('default', '{other_task}', 1, 'x')") == 1);
  // Another claim does not wait for the turn: it gets nothing at once.
  db::Connection other = database.connect();
  other.run_script("SET lock_timeout = '100ms'");
  CHECK(count(other, "SELECT count(*) FROM pgtq.claim('default', '{sleep}', 1, 'y')") == 0);
  const std::string waiting = push_to_default(conn, "sleep", "[0]"); // room: 1 of 3 running
  std::this_thread::sleep_for(500ms);
  holder.run_script("COMMIT"); // left room: the waiting daemon is woken
  CHECK_MESSAGE(reaches(conn, waiting, "succeeded", 5s), daemon.log());
}

// pgtq.pop ticks first, in the same transaction: a pop that found the limited queue's turn
// taken returns at once, so it holds the tick lock and its promotions only for a moment.
TEST_CASE("a pop that finds a limited queue's turn taken does not hold up the scheduler's work") {
  TestDatabase database;
  db::Connection conn = database.connect();
  PGconn* pg = conn.native();
  set_global_concurrency(pg, "q", 5);
  for (int i = 0; i < 3; ++i) {
    push(pg, "q", "t", i);
  }
  push(pg, "other", "t", pgtq::args(1), {.delay = 500ms});
  std::this_thread::sleep_for(700ms); // due: the next pop ticks

  db::Connection holder = database.connect();
  holder.run_script("BEGIN");
  REQUIRE(count(holder, "SELECT count(*) FROM pgtq.claim('q', '{t}', 1, 'h')") == 1);
  db::Connection popper = database.connect();
  const auto started = std::chrono::steady_clock::now();
  CHECK(count(popper, "SELECT count(*) FROM pgtq.pop('q', '{t}', 1, 'p')") == 0);
  CHECK(std::chrono::steady_clock::now() - started < 5s);
  // Its tick's promotion is committed: the other queue's task is queued.
  CHECK(count(conn,
              "SELECT count(*) FROM pgtq.live_tasks WHERE queue = 'other' AND state = 'queued'") ==
        1);
  holder.run_script("COMMIT");
  CHECK(pop(pg, "q", {"t"}, 10, "p").size() == 2);
  CHECK(running(conn, "q") == 3);
}
