// Leases under another session's row lock: renewing one task's lease must not wait for a
// lock held on another task's row, and nothing the claim loop waits for may let a lease run
// out. Two daemons, so that a lease that runs out shows as a second run of the task.
#include "support/daemon_process.hpp"
#include "support/ledger.hpp"
#include "support/sql.hpp"
#include "support/task_state.hpp"
#include "support/tcp_proxy.hpp"
#include "support/test_database.hpp"

#include <doctest/doctest.h>

#include <thread>

using namespace pgtq;
using namespace pgtq::test;

TEST_CASE("a row lock held on one running task lets no other task's lease run out") {
  TestDatabase database;
  db::Connection connection = database.connect();
  create_ledger(connection);
  const DaemonProcess::Options options{
      .dsn = database.dsn(),
      .plugin_dirs = {test_plugin_dir("ledger")},
      .extra_args = {"--lease", "4", "--heartbeat", "1", "--concurrency", "2"},
      .env = {{"PGTQ_LEDGER_DSN", database.dsn()}}};
  DaemonProcess first(options);
  REQUIRE(first.wait_for_log("listening as", 20s));
  // X finishes while its row is locked; Y runs on well past a lease.
  const std::string x =
      scalar(connection, "SELECT pgtq.push('default', 'ledger', '{\"sleep_ms\": 1500}')");
  const std::string y =
      scalar(connection, "SELECT pgtq.push('default', 'ledger', '{\"sleep_ms\": 9000}')");
  REQUIRE_MESSAGE(reaches(connection, x, "running", 10s), first.log());
  REQUIRE_MESSAGE(reaches(connection, y, "running", 10s), first.log());

  // An operator's transaction holds X's row for 12 s (a lease is 4 s).
  db::Connection locker = database.connect();
  query(locker, "BEGIN");
  query(locker, "UPDATE pgtq.live_tasks SET max_attempts = 10 WHERE id = $1::bigint", {x});
  // The second daemon would claim Y as soon as its scheduler found Y's lease expired.
  DaemonProcess second(options);
  REQUIRE(second.wait_for_log("listening as", 20s));
  std::this_thread::sleep_for(10s);
  query(locker, "COMMIT");

  REQUIRE_MESSAGE(eventually([&] { return unfinished(connection) == 0; }, 60s),
                  std::string(first.log() + second.log()));
  CHECK_MESSAGE(count(connection, "SELECT count(*) FROM ledger WHERE task_id = $1::bigint", {y}) ==
                    1,
                std::string(first.log() + second.log()));
  CHECK(field(connection, "state", y) == "succeeded");
  CHECK(field(connection, "attempts", y) == "1");
  // X's outcome waited for the lock and was recorded after it (or, had its lease run out
  // meanwhile, X ran again): either way it ends succeeded.
  CHECK(field(connection, "state", x) == "succeeded");
}

TEST_CASE("a lease that cannot be renewed stops its handler when it runs out") {
  TestDatabase database;
  db::Connection connection = database.connect();
  DaemonProcess daemon({.dsn = database.dsn(),
                        .extra_args = {"--lease", "3", "--heartbeat", "1", "--no-scheduler"}});
  REQUIRE(daemon.wait_for_log("listening as", 20s));
  const std::string id = scalar(connection, "SELECT pgtq.push('default', 'sleep', '[60]')");
  REQUIRE_MESSAGE(reaches(connection, id, "running", 10s), daemon.log());

  // The row stays locked for longer than a lease: every heartbeat finds it busy.
  db::Connection locker = database.connect();
  query(locker, "BEGIN");
  query(locker, "SELECT 1 FROM pgtq.live_tasks WHERE id = $1::bigint FOR UPDATE", {id});
  // The handler hears it without a word from the database (which cannot touch the row).
  CHECK_MESSAGE(daemon.wait_for_log("task " + id + ": its lease ran out", 20s), daemon.log());
  query(locker, "ROLLBACK");
  // Its outcome, kept while the row was locked, is recorded once the lock is gone.
  CHECK_MESSAGE(daemon.wait_for_log("sleep: stopped after", 20s), daemon.log());
  CHECK_MESSAGE(eventually([&] { return field(connection, "state", id) != "running"; }, 20s),
                daemon.log());
}

TEST_CASE("a lease runs out on time while its renewal hangs on a silent network") {
  TestDatabase database;
  db::Connection connection = database.connect();
  TcpProxy proxy(unix_socket_of(database.dsn()));
  DaemonProcess daemon(
      {.dsn = via_proxy(database.dsn(), proxy.port()),
       .extra_args = {
           "--lease", "3", "--heartbeat", "1", "--no-scheduler", "--log-level", "debug"}});
  REQUIRE(daemon.wait_for_log("listening as", 20s));
  const std::string id = scalar(connection, "SELECT pgtq.push('default', 'sleep', '[120]')");
  // Started by a worker, not only claimed: a claim committed whose answer the freeze holds
  // back is a task pgtqd never heard of, and so never loses a lease on.
  REQUIRE_MESSAGE(daemon.wait_for_log("task " + id + " (sleep) attempt 1/5 started", 10s),
                  daemon.log());

  // Nothing passes any more, and nothing is refused: the next renewal waits for an answer
  // until the TCP keepalives give up, far past the lease.
  proxy.freeze();
  REQUIRE_MESSAGE(daemon.wait_for_log("task " + id + ": its lease ran out", 60s), daemon.log());
  const std::string log = daemon.log();
  // The handler was told while the renewal still hung, not once it had failed.
  const auto ran_out = log.find("task " + id + ": its lease ran out");
  const auto renewal_failed = log.find("cannot renew leases");
  CHECK_MESSAGE((renewal_failed == std::string::npos || ran_out < renewal_failed), log);
  proxy.restore();
}
