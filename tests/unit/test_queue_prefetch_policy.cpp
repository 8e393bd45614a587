#include "queue/prefetch_policy.hpp"

#include <doctest/doctest.h>

#include <limits>

using pgtq::queue::PrefetchPolicy;

namespace {

// A policy for 8 workers that has seen enough no-op attempts for the window not to bind.
PrefetchPolicy fast_tasks() {
  PrefetchPolicy policy(8, std::nullopt);
  for (int i = 0; i < 64; ++i) {
    policy.on_attempt(0.000001);
  }
  return policy;
}

} // namespace

TEST_CASE("a fixed prefetch is the operator's number, whatever the claims and attempts") {
  PrefetchPolicy policy(8, 3);
  CHECK(policy.prefetch() == 3);
  policy.on_attempt(10);
  policy.on_claim(10, 10, 100);
  CHECK(policy.prefetch() == 3);
}

TEST_CASE("auto holds nothing before an attempt has been measured") {
  PrefetchPolicy policy(8, std::nullopt);
  CHECK(policy.prefetch() == 0);
  policy.on_claim(8, 8, 80); // a full claim alone says nothing about the tasks' length
  CHECK(policy.prefetch() == 0);
}

TEST_CASE("auto deepens while claims come back full, and is shallow again at the tail") {
  PrefetchPolicy policy = fast_tasks();
  CHECK(policy.prefetch() == 8 * PrefetchPolicy::k_shallow_per_worker);
  policy.on_claim(40, 40, 400);
  CHECK(policy.prefetch() == 8 * 8);
  policy.on_claim(64, 64, 640);
  policy.on_claim(64, 64, 640);
  CHECK(policy.prefetch() == 8 * PrefetchPolicy::k_deep_per_worker);
  policy.on_claim(64, 64, 640); // no deeper than the cap
  CHECK(policy.prefetch() == 8 * PrefetchPolicy::k_deep_per_worker);
  policy.on_claim(64, 63, 630); // the queue's tail: back to shallow at once
  CHECK(policy.prefetch() == 8 * PrefetchPolicy::k_shallow_per_worker);
  policy.on_claim(0, 0, 0); // a claim that asked for nothing says nothing
  CHECK(policy.prefetch() == 8 * PrefetchPolicy::k_shallow_per_worker);
}

TEST_CASE("auto never holds more than k_max_held, whatever the concurrency") {
  PrefetchPolicy policy(100, std::nullopt);
  policy.on_attempt(0.000001);
  for (int i = 0; i < 10; ++i) {
    policy.on_claim(10, 10, 100);
  }
  CHECK(policy.prefetch() == PrefetchPolicy::k_max_held);
}

TEST_CASE("auto holds what the workers start within the window, for longer tasks") {
  PrefetchPolicy policy(8, std::nullopt);
  policy.on_attempt(0.001); // 1 ms each: 8 workers start 40 within 5 ms
  for (int i = 0; i < 10; ++i) {
    policy.on_claim(10, 10, 100);
  }
  CHECK(policy.prefetch() == 40);
  policy.on_attempt(1.0); // a slow attempt weighs in at once: about 31 ms of mean
  CHECK(policy.prefetch() == 1);
  PrefetchPolicy slow(8, std::nullopt);
  slow.on_attempt(0.05); // tasks longer than concurrency × the window: none held
  CHECK(slow.prefetch() == 0);
}

TEST_CASE("auto holds large args by the megabyte, not by the hundred") {
  PrefetchPolicy policy = fast_tasks();
  for (int i = 0; i < 5; ++i) {
    policy.on_claim(100, 100, 100 * 512 * 1024); // 512 KiB each
  }
  // 8 MiB of held args: 16 tasks, though the depth would allow 256.
  CHECK(policy.prefetch() == 16);
}

TEST_CASE("attempts with a duration that is no number are left out of the mean") {
  PrefetchPolicy policy(8, std::nullopt);
  policy.on_attempt(-1);
  policy.on_attempt(std::numeric_limits<double>::quiet_NaN());
  CHECK(policy.prefetch() == 0);
}

TEST_CASE("held tasks are kept while the workers start them soon, given back once attempts "
          "turn slow") {
  CHECK_FALSE(PrefetchPolicy(8, 32).keep_waiting()); // a fixed prefetch keeps what it holds
  PrefetchPolicy policy = fast_tasks();
  REQUIRE(policy.keep_waiting());
  CHECK(*policy.keep_waiting() == PrefetchPolicy::k_max_held); // no-op tasks: keep all
  policy.on_attempt(5.0); // the queue's tasks now take 5 s: mean about 156 ms
  // 8 workers start about 5 within k_keep_window_s (100 ms) at that pace.
  CHECK(*policy.keep_waiting() == 5);
  CHECK(policy.prefetch() == 0);
  PrefetchPolicy ten_ms(8, std::nullopt);
  ten_ms.on_attempt(0.01); // 10 ms tasks hold 4 and keep up to 80: no give-back churn
  CHECK(ten_ms.prefetch() == 4);
  CHECK(*ten_ms.keep_waiting() == 80);
}
