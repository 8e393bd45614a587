// Anyone who may connect may NOTIFY pgtq's channels. A flood of notifications must not turn
// into a tick or a claim per notification, and garbage cancellations are ignored.
#include "support/daemon_process.hpp"
#include "support/function_calls.hpp"
#include "support/sql.hpp"
#include "support/task_state.hpp"
#include "support/test_database.hpp"

#include <doctest/doctest.h>

#include <csignal>

using namespace pgtq;
using namespace pgtq::test;

TEST_CASE("a flood of notifications makes a bounded number of ticks and claims") {
  TestDatabase database;
  db::Connection connection = database.connect();
  count_function_calls(connection, database.name());
  // Polls and ticks of their own are rare here: what happens comes from the notifications.
  DaemonProcess daemon({.dsn = database.dsn(),
                        .extra_args = {"--poll-interval", "600", "--scheduler-interval", "1"}});
  REQUIRE(daemon.wait_for_log("listening as", 20s));

  const auto started = std::chrono::steady_clock::now();
  constexpr int k_notifications = 5000;
  for (int i = 0; i < k_notifications; ++i) {
    // One transaction each: the server folds identical notifications of one transaction.
    query(connection, "NOTIFY pgtq_scheduled");
    query(connection, "NOTIFY pgtq_wakeup, 'default'");
    if (i % 10 == 0) {
      query(connection,
            "SELECT pg_notify('pgtq_cancel', $1)",
            {i % 20 == 0 ? "not a number" : "-" + std::to_string(i)});
    }
  }
  // Still working: a pushed task runs.
  const std::string id = scalar(connection, "SELECT pgtq.push('default', 'add_numbers', '[1, 2]')");
  REQUIRE_MESSAGE(reaches(connection, id, "succeeded", 20s), daemon.log());
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();

  daemon.signal(SIGTERM);
  REQUIRE(daemon.wait_exit(20s).has_value());
  // Its backends report their counts as they exit.
  REQUIRE(eventually(
      [&] {
        return count(connection,
                     "SELECT count(*) FROM pg_stat_activity WHERE datname = "
                     "current_database() AND pid <> pg_backend_pid()") == 0;
      },
      10s));
  const long long ticks = function_calls(connection, "tick");
  const long long claims = function_calls(connection, "claim");
  MESSAGE("notifications over ", seconds, " s: ", ticks, " ticks, ", claims, " claims");
  // At most one notified tick per 100 ms and one notified claim per 25 ms, with room for the
  // regular ones; one per notification would be thousands.
  CHECK(ticks >= 1);
  CHECK(ticks <= static_cast<long long>(20 * seconds) + 20);
  CHECK(claims >= 1);
  CHECK(claims <= static_cast<long long>(60 * seconds) + 20);
  CHECK_MESSAGE(daemon.log().find("error") == std::string::npos, daemon.log());
}
