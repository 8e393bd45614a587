#include "queue/error_streak.hpp"

#include <doctest/doctest.h>

using pgtq::db::PgError;
using pgtq::queue::ErrorStreak;

TEST_CASE("the claim loop's error policy retries on the same sessions until the same error "
          "repeats, and reconnects at once when a session is gone") {
  ErrorStreak streak;
  pgtq::queue::DaemonState state;
  SUBCASE("a transient error: retried within a second, twenty times in a row") {
    const PgError deadlock("40P01", "deadlock detected");
    for (int i = 1; i < 20; ++i) {
      const auto retry_in = streak.on_error(deadlock, true, state);
      REQUIRE(retry_in.has_value());
      CHECK(*retry_in <= std::chrono::milliseconds(1500));
    }
    CHECK_FALSE(streak.on_error(deadlock, true, state).has_value());
    // The streak starts over after a reconnect.
    CHECK(streak.on_error(deadlock, true, state).has_value());
  }
  SUBCASE("another error: retried after about a second, twice, then the session is replaced") {
    const PgError broken("XX000", "internal error");
    const auto retry_in = streak.on_error(broken, true, state);
    REQUIRE(retry_in.has_value());
    CHECK(*retry_in >= std::chrono::milliseconds(500));
    CHECK(streak.on_error(broken, true, state).has_value());
    CHECK_FALSE(streak.on_error(broken, true, state).has_value());
  }
  SUBCASE("a different error, or a turn that went through, starts the count again") {
    const PgError broken("XX000", "internal error");
    CHECK(streak.on_error(broken, true, state).has_value());
    CHECK(streak.on_error(broken, true, state).has_value());
    CHECK(streak.on_error(PgError("XX000", "another"), true, state).has_value());
    CHECK(streak.on_error(broken, true, state).has_value());
    streak.reset();
    CHECK(streak.on_error(broken, true, state).has_value());
    CHECK(streak.on_error(broken, true, state).has_value());
  }
  SUBCASE("a connection error, a read-only session or a broken session: reconnect") {
    state.db_connected = true;
    CHECK_FALSE(streak.on_error(PgError("08006", "connection lost"), true, state).has_value());
    CHECK_FALSE(
        streak.on_error(PgError("25006", "read-only transaction"), true, state).has_value());
    CHECK_FALSE(streak.on_error(PgError("40001", "serialization"), false, state).has_value());
    CHECK_FALSE(state.db_connected);
  }
}
