// Cancelling a task this daemon holds: one prefetched (claimed, not started) is never run,
// and a running one hears of it through the pgtq_cancel notification, not at the next
// heartbeat.
#include "support/daemon_process.hpp"
#include "support/ledger.hpp"
#include "support/sql.hpp"
#include "support/task_state.hpp"
#include "support/test_database.hpp"

#include <doctest/doctest.h>

#include <cstdlib>

using namespace pgtq;
using namespace pgtq::test;

TEST_CASE("a cancelled prefetched task is not run and ends cancelled") {
  TestDatabase database;
  db::Connection connection = database.connect();
  create_ledger(connection);
  DaemonProcess daemon({.dsn = database.dsn(),
                        .plugin_dirs = {test_plugin_dir("ledger")},
                        .extra_args = {"--concurrency", "1", "--prefetch", "1"},
                        .env = {{"PGTQ_LEDGER_DSN", database.dsn()}}});
  REQUIRE(daemon.wait_for_log("listening as", 20s));
  const std::string a =
      scalar(connection, "SELECT pgtq.push('default', 'ledger', '{\"sleep_ms\": 3000}')");
  REQUIRE_MESSAGE(reaches(connection, a, "running", 10s), daemon.log());
  const std::string b = scalar(connection, "SELECT pgtq.push('default', 'ledger')");
  // Claimed into the prefetch slot while A holds the only worker.
  REQUIRE_MESSAGE(reaches(connection, b, "running", 10s), daemon.log());
  CHECK(scalar(connection, "SELECT pgtq.cancel($1::bigint)", {b}) == "t");

  CHECK_MESSAGE(reaches(connection, b, "cancelled", 20s), daemon.log());
  CHECK_MESSAGE(reaches(connection, a, "succeeded", 20s), daemon.log());
  CHECK(count(connection, "SELECT count(*) FROM ledger WHERE task_id = $1::bigint", {b}) == 0);
  CHECK(count(connection, "SELECT count(*) FROM ledger WHERE task_id = $1::bigint", {a}) == 1);
}

TEST_CASE("a running task's handler hears of its cancellation from the notification") {
  TestDatabase database;
  db::Connection connection = database.connect();
  // Heartbeats 30 s apart: a handler that stops within seconds was told by pgtq_cancel.
  DaemonProcess daemon(
      {.dsn = database.dsn(),
       .extra_args = {"--heartbeat", "30", "--lease", "60", "--log-level", "debug"}});
  REQUIRE(daemon.wait_for_log("listening as", 20s));
  const std::string id = scalar(connection, "SELECT pgtq.push('default', 'sleep', '[120]')");
  // Started by a worker: a task cancelled before that is given back unstarted, not stopped.
  REQUIRE_MESSAGE(daemon.wait_for_log("task " + id + " (sleep) attempt 1/5 started", 10s),
                  daemon.log());
  CHECK(scalar(connection, "SELECT pgtq.cancel($1::bigint)", {id}) == "t");

  REQUIRE_MESSAGE(reaches(connection, id, "cancelled", 60s), daemon.log());
  // The sleep handler reports how long it slept before it saw should_stop().
  const std::string error = field(connection, "last_error", id);
  const auto at = error.find("stopped after ");
  REQUIRE_MESSAGE(at != std::string::npos, error);
  const double slept = std::strtod(error.c_str() + at + 14, nullptr);
  CHECK_MESSAGE(slept < 20, error); // the first heartbeat after the start comes at 30 s
  // Logged once the outcome is recorded, so possibly a moment after the row changed.
  CHECK_MESSAGE(daemon.wait_for_log("task " + id + " (sleep) cancelled", 10s), daemon.log());
}

TEST_CASE("a pgtq_cancel notification nobody asked for does not stop a running task") {
  TestDatabase database;
  db::Connection connection = database.connect();
  // Heartbeats 30 s apart: only a renewal asked for by the notification reaches the database.
  DaemonProcess daemon(
      {.dsn = database.dsn(),
       .extra_args = {"--heartbeat", "30", "--lease", "60", "--log-level", "debug"}});
  REQUIRE(daemon.wait_for_log("listening as", 20s));
  const std::string id = scalar(connection, "SELECT pgtq.push('default', 'sleep', '[2]')");
  REQUIRE_MESSAGE(daemon.wait_for_log("task " + id + " (sleep) attempt 1/5 started", 10s),
                  daemon.log());
  // Anyone who may connect may send this; the task's row says nobody cancelled it.
  query(connection, "SELECT pg_notify('pgtq_cancel', $1)", {id});
  REQUIRE_MESSAGE(daemon.wait_for_log("task " + id + ": cancellation notified", 10s), daemon.log());
  CHECK_MESSAGE(reaches(connection, id, "succeeded", 20s), daemon.log());
  CHECK(field(connection, "attempts", id) == "1");
}
