#include "queue/drain.hpp"

#include <doctest/doctest.h>

using pgtq::queue::DaemonState;
using pgtq::queue::Drain;
using Clock = Drain::Clock;

TEST_CASE("the drain starts at the first stop request, and its grace period ends at the "
          "deadline or at a second request") {
  DaemonState state;
  Drain drain(state, std::chrono::seconds(30));
  CHECK_FALSE(drain.start_if_asked());
  CHECK_FALSE(drain.active());
  CHECK_FALSE(drain.grace_over(Clock::now() + std::chrono::hours(1)));

  state.drain = true;
  const auto before = Clock::now();
  CHECK(drain.start_if_asked());
  CHECK_FALSE(drain.start_if_asked()); // once
  CHECK(drain.active());
  CHECK(drain.deadline() >= before + std::chrono::seconds(30));
  const auto deadline = drain.deadline();

  CHECK_FALSE(drain.grace_over(deadline - std::chrono::seconds(1)));
  CHECK(drain.grace_over(deadline));
  CHECK(drain.next_step(deadline - std::chrono::seconds(1)) == deadline);
  CHECK(drain.next_step(deadline) == deadline + Drain::k_outcome_extra);
  CHECK_FALSE(drain.give_up(deadline));
  CHECK(drain.give_up(deadline + Drain::k_outcome_extra));
  CHECK(drain.first_release());
  CHECK_FALSE(drain.first_release());

  state.cancel_now = true;
  CHECK(drain.grace_over(deadline - std::chrono::seconds(1)));
  CHECK(drain.give_up(deadline - std::chrono::seconds(1)));
}

TEST_CASE("with worker processes, outcomes are waited for the timeout-grace longer, while "
          "stopped handlers may still return or be killed") {
  DaemonState state;
  Drain drain(state, std::chrono::seconds(30), std::chrono::seconds(7));
  state.drain = true;
  REQUIRE(drain.start_if_asked());
  const auto deadline = drain.deadline();
  const auto extra = Drain::k_outcome_extra + std::chrono::seconds(7);
  CHECK(drain.next_step(deadline) == deadline + extra);
  CHECK_FALSE(drain.give_up(deadline + Drain::k_outcome_extra));
  CHECK(drain.give_up(deadline + extra));
}
