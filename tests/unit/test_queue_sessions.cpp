#include "queue/sessions.hpp"

#include <doctest/doctest.h>

#include <chrono>

using namespace pgtq;

TEST_CASE("only the claim loop's session commits without waiting for the WAL flush") {
  const auto heartbeat = std::chrono::seconds(5);
  CHECK(queue::claim_session(heartbeat).asynchronous_commit);
  CHECK(queue::claim_session(heartbeat).read_committed);
  // Outcomes and lease renewals wait for the flush: a recorded outcome is durable, and it
  // makes every claim committed before it durable too.
  CHECK_FALSE(queue::work_session(heartbeat).asynchronous_commit);
  CHECK_FALSE(queue::lease_session(heartbeat).asynchronous_commit);
  CHECK_FALSE(queue::scheduler_session().asynchronous_commit);
}

TEST_CASE("the scheduler's session gives up on a locked row after a second") {
  // An operator's open transaction on a registration row must not stop the ticks.
  CHECK(queue::scheduler_session().lock_timeout == std::chrono::milliseconds(1000));
}
