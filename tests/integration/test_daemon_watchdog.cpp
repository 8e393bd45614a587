// WATCHDOG=1 is sent once per half of WATCHDOG_USEC, not on every turn of the main loop.
#include "support/daemon_process.hpp"
#include "support/notify_socket.hpp"
#include "support/test_database.hpp"

#include <doctest/doctest.h>

using namespace pgtq;
using namespace pgtq::test;

TEST_CASE("WATCHDOG=1 comes at half the watchdog interval, not more often") {
  TestDatabase database;
  NotifySocket notify;
  // WatchdogSec=2s: a ping every second.
  DaemonProcess daemon({.dsn = database.dsn(),
                        .env = {{"NOTIFY_SOCKET", notify.path()}, {"WATCHDOG_USEC", "2000000"}}});
  notify.read_until("READY=1", 15s);
  REQUIRE_MESSAGE(notify.received("READY=1"), daemon.log());

  const int before = notify.count("WATCHDOG=1");
  const auto start = std::chrono::steady_clock::now();
  notify.read_until("(read for a while)", 4s);
  const auto seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const int pings = notify.count("WATCHDOG=1") - before;
  // Every 200 ms, as it was, would be about 20; a slow machine can only send fewer.
  CHECK_MESSAGE(pings <= seconds + 2, pings << " pings in " << seconds << " s");
  CHECK_MESSAGE(pings >= 1, daemon.log());
}
