#include "plugin/handler_registry.hpp"
#include "queue/cancellation.hpp"
#include "queue/lease_keeper.hpp"
#include "queue/thread_runner.hpp"
#include "queue/worker_pool.hpp"

#include <doctest/doctest.h>

#include <atomic>

using namespace pgtq;

TEST_CASE("a pgtq_cancel notification is acted on only for a task id this daemon holds, and "
          "stops a started attempt only on the database's word") {
  queue::ThreadRunner runner(std::chrono::nanoseconds::zero());
  std::atomic<int> running{0};
  queue::WorkerPool pool(
      1, runner, [](queue::Outcome&&) {}, [](queue::ClaimedTask&&) {}, running);
  queue::InFlightTasks in_flight;
  queue::LeaseKeeper leases(queue::LeaseKeeperSettings{}, in_flight); // not started
  const auto held = in_flight.add(42, 7, queue::InFlightTasks::Clock::now());

  for (const char* payload : {"", "x42", "42x", "-42", "0", "4200000000000000000000", "43"}) {
    CHECK_FALSE(
        queue::cancel_requested({"pgtq_cancel", payload}, in_flight, pool, leases).has_value());
  }
  CHECK_FALSE(queue::cancel_requested({"pgtq_wakeup", "42"}, in_flight, pool, leases).has_value());
  CHECK_FALSE(held->stop.load());
  CHECK_FALSE(held->cancelled.load());

  // Started (no worker queue holds it): nothing to release, and the handler goes on until
  // the lease keeper's renewal, asked for now, answers "cancel" (anyone may NOTIFY).
  CHECK_FALSE(queue::cancel_requested({"pgtq_cancel", "42"}, in_flight, pool, leases).has_value());
  CHECK_FALSE(held->stop.load());
  CHECK_FALSE(held->cancelled.load());
  pool.shutdown();
}
