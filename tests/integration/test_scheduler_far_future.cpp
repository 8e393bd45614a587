// Scheduled tasks due far ahead, written straight into the table (as a role with table
// grants could, bypassing pgtq.push's checks): the scheduler goes on ticking at its pace,
// and still rescues the task of a daemon that died.
#include "support/daemon_process.hpp"
#include "support/function_calls.hpp"
#include "support/sql.hpp"
#include "support/task_state.hpp"
#include "support/test_database.hpp"

#include <doctest/doctest.h>

#include <csignal>

using namespace pgtq;
using namespace pgtq::test;

TEST_CASE("a task scheduled at 3000-01-01 or at infinity stops no scheduler") {
  std::string run_at;
  SUBCASE("3000-01-01") {
    run_at = "3000-01-01";
  }
  SUBCASE("infinity") {
    run_at = "infinity";
  }

  TestDatabase database;
  db::Connection connection = database.connect();
  count_function_calls(connection, database.name());
  query(connection,
        "INSERT INTO pgtq.live_tasks (queue, task, args, state, run_at, max_attempts) "
        "VALUES ('default', 'add_numbers', '[1, 1]', 'scheduled', $1::timestamptz, 3)",
        {run_at});

  // The rescuer serves another queue: the task comes back to the queue only by its tick.
  DaemonProcess rescuer({.dsn = database.dsn(), .queue = "other"});
  REQUIRE(rescuer.wait_for_log("listening as", 20s));
  const auto started = std::chrono::steady_clock::now();
  DaemonProcess victim({.dsn = database.dsn(),
                        .extra_args = {"--no-scheduler", "--lease", "2", "--heartbeat", "1"}});
  const std::string id = scalar(connection, "SELECT pgtq.push('default', 'sleep', '[60]')");
  REQUIRE_MESSAGE(reaches(connection, id, "running", 20s), victim.log());
  victim.signal(SIGKILL);

  CHECK_MESSAGE(reaches(connection, id, "queued", 30s), rescuer.log());
  CHECK(field(connection, "last_error", id).starts_with("lease expired"));

  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  rescuer.signal(SIGTERM);
  REQUIRE(rescuer.wait_exit(20s).has_value());
  REQUIRE(eventually(
      [&] {
        return count(connection,
                     "SELECT count(*) FROM pg_stat_activity WHERE datname = "
                     "current_database() AND pid <> pg_backend_pid()") == 0;
      },
      10s));
  // About one tick a second (the interval), not a tick loop.
  const long long ticks = function_calls(connection, "tick");
  MESSAGE(ticks, " ticks in ", seconds, " s");
  CHECK(ticks <= static_cast<long long>(5 * seconds) + 10);
}
