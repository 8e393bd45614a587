// The registry of workers (sql/schema/13_workers.sql): a running pgtqd is in pgtq.live_workers
// with what it serves and the tasks it holds, a clean stop removes it, a killed one drops out
// of the view after three heartbeats, and the scheduler forgets it a day later.
#include "pgtq/client.hpp"
#include "support/ctl_process.hpp"
#include "support/daemon_process.hpp"
#include "support/sql.hpp"
#include "support/task_state.hpp"
#include "support/test_database.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <csignal>
#include <string>
#include <thread>

using namespace pgtq;
using namespace pgtq::test;
using namespace std::chrono_literals;

namespace {

long long live(db::Connection& conn) {
  return count(conn, "SELECT count(*) FROM pgtq.live_workers");
}

} // namespace

TEST_CASE("a running pgtqd is a live worker with its queue, pid, settings and running tasks, and a "
          "clean stop removes it") {
  TestDatabase database;
  db::Connection conn = database.connect();
  DaemonProcess daemon(
      {.dsn = database.dsn(), .extra_args = {"--concurrency", "3", "--heartbeat", "0.5"}});
  REQUIRE_MESSAGE(eventually([&] { return live(conn) == 1; }, 10s), daemon.log());
  CHECK(scalar(conn,
               "SELECT queue || ' ' || pid || ' ' || concurrency || ' ' || isolation"
               " FROM pgtq.live_workers") ==
        "default " + std::to_string(daemon.pid()) + " 3 process");
  CHECK(count(conn, "SELECT count(*) FROM pgtq.live_workers WHERE version <> ''") == 1);

  const std::string id = scalar(conn, "SELECT pgtq.push('default', 'sleep', '[2]')");
  REQUIRE_MESSAGE(reaches(conn, id, "running", 10s), daemon.log());
  CHECK(scalar(conn, "SELECT running FROM pgtq.live_workers") == "1");
  // The worker's row names the worker the running task names.
  CHECK(count(conn,
              "SELECT count(*) FROM pgtq.live_workers w JOIN pgtq.tasks t"
              " ON t.locked_by = w.worker WHERE t.id = $1",
              {id}) == 1);

  daemon.signal(SIGTERM);
  REQUIRE(daemon.wait_exit(30s));
  CHECK(count(conn, "SELECT count(*) FROM pgtq.workers") == 0);
}

TEST_CASE("a killed pgtqd leaves the live workers after three heartbeats, and the registry a "
          "day later") {
  TestDatabase database;
  db::Connection conn = database.connect();
  DaemonProcess daemon({.dsn = database.dsn(), .extra_args = {"--heartbeat", "0.5"}});
  REQUIRE_MESSAGE(eventually([&] { return live(conn) == 1; }, 10s), daemon.log());
  daemon.signal(SIGKILL);
  REQUIRE(daemon.wait_exit(10s));
  CHECK(count(conn, "SELECT count(*) FROM pgtq.workers") == 1);
  // Written at most once a second: three heartbeats are three seconds here.
  CHECK(eventually([&] { return live(conn) == 0; }, 10s));
  CHECK(count(conn, "SELECT count(*) FROM pgtq.workers") == 1);

  query(conn, "UPDATE pgtq.workers SET last_seen = now() - interval '25 hours'");
  query(conn, "SELECT * FROM pgtq.tick()");
  CHECK(count(conn, "SELECT count(*) FROM pgtq.workers") == 0);
}

TEST_CASE("one worker name serving two queues has a row for each, and a clean stop removes only "
          "its own") {
  TestDatabase database;
  db::Connection conn = database.connect();
  for (const char* queue : {"q1", "q3"}) {
    query(conn,
          "SELECT pgtq.worker_seen('d1', $1, 'h', 7, '1.0', 4, 'thread', '5 seconds', now())",
          {queue});
  }
  CHECK(live(conn) == 2);
  CHECK(scalar(conn, "SELECT pgtq.worker_stopped('d1', 'q1')") == "t");
  CHECK(scalar(conn, "SELECT string_agg(queue, ',') FROM pgtq.live_workers") == "q3");
}

TEST_CASE("two pgtqd under one worker name and queue are warned once a minute, not at every "
          "heartbeat") {
  TestDatabase database;
  db::Connection conn = database.connect();
  DaemonProcess daemon(
      {.dsn = database.dsn(), .extra_args = {"--worker-name", "d1", "--heartbeat", "0.5"}});
  REQUIRE_MESSAGE(eventually([&] { return live(conn) == 1; }, 10s), daemon.log());
  // Another daemon's heartbeats under the same name, from another host, for 3.5 s: pgtqd
  // writes its row once a second and is warned each time.
  const auto until = std::chrono::steady_clock::now() + 3500ms;
  while (std::chrono::steady_clock::now() < until) {
    query(conn,
          "SELECT pgtq.worker_seen('d1', 'default', 'elsewhere', 99, '1.0', 4, 'thread',"
          " '1 second', now())");
    std::this_thread::sleep_for(100ms);
  }
  const std::string log = daemon.log();
  std::size_t warnings = 0;
  for (std::size_t at = log.find("is in use by another pgtqd"); at != std::string::npos;
       at = log.find("is in use by another pgtqd", at + 1)) {
    ++warnings;
  }
  CHECK_MESSAGE(warnings == 1, log);
}

TEST_CASE("a pgtqd registers the task names it handles, and queued tasks that no live pgtqd "
          "handles are listed and warned about") {
  TestDatabase database;
  db::Connection conn = database.connect();
  DaemonProcess daemon({.dsn = database.dsn(), .extra_args = {"--heartbeat", "0.5"}});
  REQUIRE_MESSAGE(eventually([&] { return live(conn) == 1; }, 10s), daemon.log());
  CHECK(scalar(conn,
               "SELECT 'add_numbers' = ANY (task_names) AND 'sleep' = ANY (task_names)"
               " FROM pgtq.live_workers") == "t");
  query(conn, "SELECT pgtq.pause('default')"); // the tasks stay queued
  query(conn, "SELECT pgtq.push('default', 'add_numbers', '[1, 2]')");
  query(conn, "SELECT pgtq.push('default', 'add_numbres', '[1, 2]')"); // a typo
  query(conn, "SELECT pgtq.push('default', 'add_numbres', '[3, 4]')");
  query(conn, "SELECT pgtq.push('nobody', 'add_numbers', '[1, 2]')"); // no pgtqd serves it
  CHECK(scalar(conn,
               "SELECT string_agg(queue || ' ' || task || ' ' || queued || ' '"
               " || queue_has_workers, ', ' ORDER BY queue) FROM pgtq.unhandled_tasks") ==
        "default add_numbres 2 true, nobody add_numbers 1 false");
  const auto stats = pgtqctl(database.dsn(), {"stats"});
  CHECK(stats.exit_code == 0);
  CHECK_MESSAGE(stats.output.find("warning: queue default has 2 queued task(s) named "
                                  "\"add_numbres\"") != std::string::npos,
                stats.output);
  CHECK_MESSAGE(stats.output.find("none serves the queue") != std::string::npos, stats.output);
  CHECK(pgtqctl(database.dsn(), {"stats", "--queue", "nobody"}).output.find("add_numbres") ==
        std::string::npos);
  // A worker that did not say its task names (an older pgtqd) counts as handling them all.
  query(conn,
        "SELECT pgtq.worker_seen('old', 'nobody', 'h', 1, '0.9', 1, 'thread', '5 seconds', now())");
  CHECK(count(conn, "SELECT count(*) FROM pgtq.unhandled_tasks WHERE queue = 'nobody'") == 0);
}
