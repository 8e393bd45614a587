// The lease keeper (queue/lease_keeper.cpp) against a real database: a lease found lost stops
// a running handler, but a handler that has already returned has nothing to stop.
#include "pgtq/client.hpp"
#include "queue/in_flight.hpp"
#include "queue/lease_keeper.hpp"
#include "support/daemon_process.hpp"
#include "support/sql.hpp"
#include "support/test_database.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

using namespace pgtq;
using namespace pgtq::test;
using namespace std::chrono_literals;

TEST_CASE("a lease lost while its handler runs stops it, and one whose handler returned does "
          "not") {
  TestDatabase database;
  db::Connection conn = database.connect();
  PGconn* pg = conn.native();
  push(pg, "q", "t", 1);
  push(pg, "q", "t", 2);
  const std::vector<ClaimedTask> claimed = pop(pg, "q", {"t"}, 2, "w");
  REQUIRE(claimed.size() == 2);

  queue::InFlightTasks in_flight;
  queue::LeaseKeeperSettings settings;
  settings.dsn = database.dsn();
  settings.queue = "q";
  settings.worker_name = "w";
  settings.lease = 30s;
  settings.heartbeat = 1h; // renewals only when asked for below
  settings.identity.version = "test";
  const auto until = queue::InFlightTasks::Clock::now() + 30s;
  const auto running = in_flight.add(claimed[0].id, claimed[0].claim, until);
  const auto returned = in_flight.add(claimed[1].id, claimed[1].claim, until);
  // The second handler has returned and its outcome is being recorded: that outcome is what
  // makes the renewal find the task lost, and there is no handler left to stop.
  returned->finished = true;
  REQUIRE(complete(pg, claimed[0]));
  REQUIRE(complete(pg, claimed[1]));

  queue::LeaseKeeper leases(settings, in_flight);
  leases.start();
  leases.renew_soon();
  CHECK(eventually([&] { return running->stop.load(); }, 10s));
  // Renewed again: still nothing raised for the returned one.
  std::this_thread::sleep_for(queue::LeaseKeeper::k_soonest_renewal * 2);
  leases.renew_soon();
  std::this_thread::sleep_for(200ms);
  CHECK_FALSE(returned->stop.load());
  leases.stop();
}
