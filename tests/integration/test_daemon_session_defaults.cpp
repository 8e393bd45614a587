// Database and role defaults that pgtqd's sessions must not depend on: a SERIALIZABLE
// default isolation level, and sessions that cannot write (as after a failover onto a
// standby, or default_transaction_read_only).
#include "support/daemon_process.hpp"
#include "support/ledger.hpp"
#include "support/sql.hpp"
#include "support/task_state.hpp"
#include "support/test_database.hpp"

#include <doctest/doctest.h>

#include <memory>
#include <vector>

using namespace pgtq;
using namespace pgtq::test;

TEST_CASE("three pgtqd on a database defaulting to SERIALIZABLE run each task once, no errors") {
  TestDatabase database;
  db::Connection connection = database.connect();
  create_ledger(connection);
  query(connection,
        "ALTER DATABASE \"" + database.name() +
            "\" SET default_transaction_isolation = 'serializable'");
  const DaemonProcess::Options options{.dsn = database.dsn(),
                                       .plugin_dirs = {test_plugin_dir("ledger")},
                                       .extra_args = {"--concurrency", "4"},
                                       .env = {{"PGTQ_LEDGER_DSN", database.dsn()}}};
  std::vector<std::unique_ptr<DaemonProcess>> daemons;
  for (int i = 0; i < 3; ++i) {
    daemons.push_back(std::make_unique<DaemonProcess>(options));
  }
  std::string logs;
  const auto all_logs = [&] {
    logs.clear();
    for (const auto& daemon : daemons) {
      logs += daemon->log();
    }
    return logs;
  };
  for (const auto& daemon : daemons) {
    REQUIRE_MESSAGE(daemon->wait_for_log("listening as", 20s), all_logs());
  }
  push_ledger_tasks(connection, 2000, "{}");
  REQUIRE_MESSAGE(eventually([&] { return unfinished(connection) == 0; }, 180s), all_logs());

  CHECK(count(connection, "SELECT count(*) FROM pgtq.tasks WHERE state = 'succeeded'") == 2000);
  CHECK(count(connection, "SELECT count(*) FROM ledger") == 2000);
  CHECK(count(connection, "SELECT count(DISTINCT task_id) FROM ledger") == 2000);
  CHECK_MESSAGE(count(connection,
                      "SELECT count(*) FROM pgtq.tasks WHERE attempts <> 1 "
                      "OR jsonb_array_length(errors) > 0") == 0,
                all_logs());
  CHECK_MESSAGE(all_logs().find("could not serialize") == std::string::npos, logs);
}

TEST_CASE("after its sessions came back read-only, pgtqd reconnects and claims again") {
  TestDatabase database;
  db::Connection connection = database.connect();
  DaemonProcess daemon({.dsn = database.dsn(), .extra_args = {"--poll-interval", "0.3"}});
  REQUIRE(daemon.wait_for_log("listening as", 20s));

  // A failover onto a server that cannot write, as far as pgtqd can tell.
  const std::string alter = "ALTER DATABASE \"" + database.name() + "\" SET ";
  query(connection, alter + "default_transaction_read_only = on");
  query(connection,
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE datname = current_database() AND pid <> pg_backend_pid()");
  REQUIRE_MESSAGE(daemon.wait_for_log("read-only transaction", 20s), daemon.log());

  query(connection, alter + "default_transaction_read_only = off");
  const std::string id = scalar(connection, "SELECT pgtq.push('default', 'add_numbers', '[2, 5]')");
  // Only the scheduler makes a delayed task due: its sessions came back read-only too.
  const std::string delayed =
      scalar(connection,
             "SELECT pgtq.push('default', 'add_numbers', '[1, 1]', delay => interval '1 second')");
  CHECK_MESSAGE(reaches(connection, id, "succeeded", 60s), daemon.log());
  CHECK_MESSAGE(reaches(connection, delayed, "succeeded", 60s), daemon.log());
  CHECK(daemon.running());
}
