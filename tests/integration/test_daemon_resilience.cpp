// Many daemons on one queue, and a database that goes away under a running daemon.
#include "support/daemon_process.hpp"
#include "support/private_server.hpp"
#include "support/sql.hpp"
#include "support/test_database.hpp"

#include "db/migrator.hpp"

#include <doctest/doctest.h>

#include <csignal>
#include <memory>
#include <thread>

using namespace pgtq;
using namespace pgtq::test;

namespace {

void create_ledger(db::Connection& connection) {
  query(connection, "CREATE TABLE ledger (task_id bigint NOT NULL, attempt int NOT NULL, "
                    "worker_pid int NOT NULL, at timestamptz NOT NULL DEFAULT now())");
}

// Pushes count ledger tasks in chunks of 500, one round trip each.
void push_ledger_tasks(db::Connection& connection, int count, const std::string& args) {
  for (int pushed = 0; pushed < count; pushed += 500) {
    query(connection,
          "SELECT pgtq.push_many('default', (SELECT jsonb_agg(jsonb_build_object('task', 'ledger', "
          "'args', $1::jsonb)) FROM generate_series(1, $2::int)))",
          {args, std::to_string(std::min(500, count - pushed))});
  }
}

long long unfinished(db::Connection& connection) {
  return count(connection, "SELECT count(*) FROM pgtq.live_tasks");
}

} // namespace

TEST_CASE("two pgtqd on one queue run each of 3000 tasks exactly once") {
  TestDatabase database;
  db::Connection connection = database.connect();
  create_ledger(connection);
  push_ledger_tasks(connection, 3000, "{}");

  const DaemonProcess::Options options{.dsn = database.dsn(),
                                       .plugin_dirs = {test_plugin_dir("ledger")},
                                       .extra_args = {"--concurrency", "8"},
                                       .env = {{"PGTQ_LEDGER_DSN", database.dsn()}}};
  DaemonProcess first(options);
  DaemonProcess second(options);
  REQUIRE_MESSAGE(eventually([&] { return unfinished(connection) == 0; }, 120s),
                  std::string(first.log() + second.log()));

  CHECK(count(connection, "SELECT count(*) FROM pgtq.tasks WHERE state = 'succeeded'") == 3000);
  CHECK(count(connection, "SELECT count(*) FROM ledger") == 3000);
  CHECK(count(connection, "SELECT count(DISTINCT task_id) FROM ledger") == 3000);
  CHECK(count(connection, "SELECT count(DISTINCT worker_pid) FROM ledger") == 2);
}

TEST_CASE("pgtqd survives a database restart and carries on, running tasks included") {
  PrivateServer server;
  {
    db::Connection admin(server.dsn(), "pgtq-test");
    db::Migrator().migrate(admin);
  }
  db::Connection connection(server.dsn(), "pgtq-test");
  DaemonProcess daemon({.dsn = server.dsn(), .extra_args = {"--poll-interval", "0.5"}});
  REQUIRE(daemon.wait_for_log("listening as", 10s));

  const std::string running = scalar(connection, "SELECT pgtq.push('default', 'sleep', '[2]')");
  REQUIRE(eventually([&] {
    return scalar(connection, "SELECT state FROM pgtq.tasks WHERE id = $1", {running}) == "running";
  }, 10s));

  server.stop();
  REQUIRE_MESSAGE(daemon.wait_for_log("database unavailable", 10s), daemon.log());
  std::this_thread::sleep_for(2500ms); // the sleep task finishes while the database is down
  server.start();

  db::Connection after(server.dsn(), "pgtq-test");
  const std::string later = scalar(after, "SELECT pgtq.push('default', 'add_numbers', '[3, 4]')");
  REQUIRE_MESSAGE(eventually([&] {
    return scalar(after, "SELECT state FROM pgtq.tasks WHERE id = $1", {later}) == "succeeded";
  }, 30s), daemon.log());
  CHECK(scalar(after, "SELECT result::text FROM pgtq.tasks WHERE id = $1", {later}) == "7");
  // The outcome of the task that ran through the outage was kept and recorded afterwards.
  CHECK(eventually([&] {
    return scalar(after, "SELECT state FROM pgtq.tasks WHERE id = $1", {running}) == "succeeded";
  }, 10s));
  CHECK(scalar(after, "SELECT attempts FROM pgtq.tasks WHERE id = $1", {running}) == "1");
  CHECK(daemon.running());
  CHECK(daemon.log().find("re-established") != std::string::npos);
}
