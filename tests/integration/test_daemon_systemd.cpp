// The sd_notify protocol, for real: the test binds the NOTIFY_SOCKET datagram socket that
// systemd would, starts pgtqd with it and reads what pgtqd says.
#include "support/daemon_process.hpp"
#include "support/notify_socket.hpp"
#include "support/sql.hpp"
#include "support/test_database.hpp"

#include <doctest/doctest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <csignal>

using namespace pgtq;
using namespace pgtq::test;

TEST_CASE("pgtqd tells systemd READY, STATUS, WATCHDOG and STOPPING") {
  TestDatabase database;
  db::Connection connection = database.connect();
  NotifySocket notify;
  DaemonProcess daemon({.dsn = database.dsn(),
                        .env = {{"NOTIFY_SOCKET", notify.path()}, {"WATCHDOG_USEC", "1000000"}}});

  notify.read_until("READY=1", 15s);
  REQUIRE_MESSAGE(notify.received("READY=1"), daemon.log());
  CHECK(notify.received("STATUS=queue default: 0/8 workers busy"));

  const std::string id = scalar(connection, "SELECT pgtq.push('default', 'add_numbers', '[1, 2]')");
  REQUIRE(eventually(
      [&] {
        return scalar(connection, "SELECT state FROM pgtq.tasks WHERE id = $1", {id}) ==
               "succeeded";
      },
      10s));
  notify.read_until("1 done", 10s);
  CHECK(notify.received("1 done"));
  // WATCHDOG_USEC=1 s: pings every half second while the claim loop turns.
  notify.read_until("WATCHDOG=1", 5s);
  CHECK(notify.received("WATCHDOG=1"));

  daemon.signal(SIGTERM);
  notify.read_until("STOPPING=1", 10s);
  CHECK(notify.received("STOPPING=1"));
  const auto status = daemon.wait_exit(10s);
  REQUIRE(status.has_value());
  CHECK(WEXITSTATUS(*status) == 0);
}

TEST_CASE("READY is not sent while the database cannot be reached") {
  NotifySocket notify;
  DaemonProcess daemon({.dsn = "host=/nonexistent-pgtq-socket-dir dbname=none connect_timeout=1",
                        .env = {{"NOTIFY_SOCKET", notify.path()}}});
  REQUIRE(daemon.wait_for_log("waiting for the database", 10s));
  notify.read_until("READY=1", 1s);
  CHECK_FALSE(notify.received("READY=1"));
  CHECK(daemon.running());
  daemon.signal(SIGTERM);
  const auto status = daemon.wait_exit(10s);
  REQUIRE(status.has_value());
  CHECK(WEXITSTATUS(*status) == 0);
}
