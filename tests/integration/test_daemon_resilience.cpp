// Many daemons on one queue, and a database that goes away under a running daemon.
#include "db/migrator.hpp"
#include "support/daemon_process.hpp"
#include "support/ledger.hpp"
#include "support/private_server.hpp"
#include "support/sql.hpp"
#include "support/test_database.hpp"

#include <doctest/doctest.h>

#include <csignal>
#include <memory>
#include <thread>

using namespace pgtq;
using namespace pgtq::test;

TEST_CASE("two pgtqd on one queue run each of 3000 tasks exactly once") {
  TestDatabase database;
  db::Connection connection = database.connect();
  create_ledger(connection);

  const DaemonProcess::Options options{
      .dsn = database.dsn(),
      .plugin_dirs = {test_plugin_dir("ledger")},
      // Threads: the ledger's worker_pid is then the
      // daemon's, and tells the two daemons apart.
      .extra_args = {"--concurrency", "8", "--isolation", "thread"},
      .env = {{"PGTQ_LEDGER_DSN", database.dsn()}}};
  DaemonProcess first(options);
  DaemonProcess second(options);
  // Both listening before the tasks arrive, so that both get a share however slow the
  // machine is at starting them.
  REQUIRE(first.wait_for_log("listening as", 20s));
  REQUIRE(second.wait_for_log("listening as", 20s));
  push_ledger_tasks(connection, 3000, "{\"sleep_ms\": 1}");
  REQUIRE_MESSAGE(eventually([&] { return unfinished(connection) == 0; }, 120s),
                  std::string(first.log() + second.log()));

  CHECK(count(connection, "SELECT count(*) FROM pgtq.tasks WHERE state = 'succeeded'") == 3000);
  CHECK(count(connection, "SELECT count(*) FROM ledger") == 3000);
  CHECK(count(connection, "SELECT count(DISTINCT task_id) FROM ledger") == 3000);
  CHECK(count(connection, "SELECT count(DISTINCT worker_pid) FROM ledger") == 2);
}

TEST_CASE("pgtqd survives a database restart and carries on, running tasks included, with "
          "session-grace at the lease") {
  PrivateServer server;
  {
    db::Connection admin(server.dsn(), "pgtq-test");
    db::Migrator().migrate(admin);
  }
  db::Connection connection(server.dsn(), "pgtq-test");
  // A lease that outlasts the outage and the reconnect backoff, so that the daemon's own
  // scheduler cannot rescue the task whose outcome waits to be recorded. A session grace as
  // long: no early rescue, so its running task need not stop when its session ends (with the
  // default, it stops after 0.75 s: test_worker_rescue.cpp).
  DaemonProcess daemon(
      {.dsn = server.dsn(),
       .extra_args = {"--poll-interval", "0.5", "--lease", "60", "--session-grace", "60"}});
  REQUIRE(daemon.wait_for_log("listening as", 10s));

  const std::string running = scalar(connection, "SELECT pgtq.push('default', 'sleep', '[2]')");
  REQUIRE(eventually(
      [&] {
        return scalar(connection, "SELECT state FROM pgtq.tasks WHERE id = $1", {running}) ==
               "running";
      },
      10s));

  server.stop();
  REQUIRE_MESSAGE(daemon.wait_for_log("database unavailable", 10s), daemon.log());
  std::this_thread::sleep_for(2500ms); // the sleep task finishes while the database is down
  server.start();

  db::Connection after(server.dsn(), "pgtq-test");
  const std::string later = scalar(after, "SELECT pgtq.push('default', 'add_numbers', '[3, 4]')");
  REQUIRE_MESSAGE(eventually(
                      [&] {
                        return scalar(after,
                                      "SELECT state FROM pgtq.tasks WHERE id = $1",
                                      {later}) == "succeeded";
                      },
                      30s),
                  daemon.log());
  CHECK(scalar(after, "SELECT result::text FROM pgtq.tasks WHERE id = $1", {later}) == "7");
  // The outcome of the task that ran through the outage was kept and recorded afterwards.
  CHECK(eventually(
      [&] {
        return scalar(after, "SELECT state FROM pgtq.tasks WHERE id = $1", {running}) ==
               "succeeded";
      },
      10s));
  CHECK(scalar(after, "SELECT attempts FROM pgtq.tasks WHERE id = $1", {running}) == "1");
  CHECK(daemon.running());
  CHECK(daemon.log().find("re-established") != std::string::npos);
}

TEST_CASE("SIGTERM while the database is down ends pgtqd with exit 0 after the grace period") {
  PrivateServer server;
  {
    db::Connection admin(server.dsn(), "pgtq-test");
    db::Migrator().migrate(admin);
  }
  db::Connection connection(server.dsn(), "pgtq-test");
  DaemonProcess daemon({.dsn = server.dsn(), .extra_args = {"--shutdown-grace", "2"}});
  REQUIRE(daemon.wait_for_log("listening as", 10s));
  const std::string running = scalar(connection, "SELECT pgtq.push('default', 'sleep', '[60]')");
  REQUIRE(eventually(
      [&] {
        return scalar(connection, "SELECT state FROM pgtq.tasks WHERE id = $1", {running}) ==
               "running";
      },
      10s));

  server.stop();
  REQUIRE_MESSAGE(daemon.wait_for_log("database unavailable", 10s), daemon.log());
  daemon.signal(SIGTERM);
  // The sleep handler stops at the request; with the database away its outcome cannot be
  // recorded, so the task is left to the rescue of its lease, and the daemon still exits.
  const std::optional<int> status = daemon.wait_exit(20s);
  REQUIRE_MESSAGE(status.has_value(), daemon.log());
  CHECK(WIFEXITED(*status));
  CHECK(WEXITSTATUS(*status) == 0);
  CHECK(daemon.log().find("stopping: no new claims") != std::string::npos);
  // The drain ended without the database: its running handler was still asked to stop.
  CHECK_MESSAGE(daemon.log().find("a handler did not return in time") == std::string::npos,
                daemon.log());
}

TEST_CASE("SIGTERM before the database was ever reached ends pgtqd at once") {
  PrivateServer server;
  server.stop();
  DaemonProcess daemon({.dsn = server.dsn()});
  REQUIRE_MESSAGE(daemon.wait_for_log("waiting for the database", 10s), daemon.log());
  daemon.signal(SIGTERM);
  const std::optional<int> status = daemon.wait_exit(10s);
  REQUIRE_MESSAGE(status.has_value(), daemon.log());
  CHECK(WIFEXITED(*status));
  CHECK(WEXITSTATUS(*status) == 0);
}
