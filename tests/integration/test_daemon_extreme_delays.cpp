// Delays beyond what a timestamp holds, from a handler's snooze or the backoff cap: the task
// is delayed by the longest delay pgtqd asks for (100 years), never failed for it.
#include "support/daemon_process.hpp"
#include "support/sql.hpp"
#include "support/task_state.hpp"
#include "support/test_database.hpp"

#include <doctest/doctest.h>

using namespace pgtq;
using namespace pgtq::test;

namespace {

// Whether the task waits, scheduled, between 99 and 101 years from now.
bool scheduled_a_century_ahead(db::Connection& connection, const std::string& id) {
  return scalar(connection, "SELECT state = 'scheduled' AND run_at BETWEEN "
                            "now() + interval '99 years' AND now() + interval '101 years' "
                            "FROM pgtq.tasks WHERE id = $1::bigint",
                {id}) == "t";
}

} // namespace

TEST_CASE("a snooze of 1e300 seconds delays the task by 100 years instead of failing it") {
  TestDatabase database;
  db::Connection connection = database.connect();
  DaemonProcess daemon({.dsn = database.dsn(), .plugin_dirs = {test_plugin_dir("snooze")}});
  const std::string id =
      scalar(connection, "SELECT pgtq.push('default', 'snooze_once', '{\"seconds\": 1e300}')");
  CHECK_MESSAGE(eventually([&] { return scheduled_a_century_ahead(connection, id); }, 20s),
                std::string(daemon.log() + field(connection, "state || ' ' || coalesce(last_error, '')", id)));
  CHECK(field(connection, "attempts", id) == "0");
}

TEST_CASE("a backoff cap of 1e300 seconds delays a retry by at most 100 years") {
  TestDatabase database;
  db::Connection connection = database.connect();
  // throw_runtime is retried with the daemon's backoff policy (flaky has one of its own).
  DaemonProcess daemon({.dsn = database.dsn(),
                        .plugin_dirs = {test_plugin_dir("throws")},
                        .extra_args = {"--backoff-base", "1e300", "--backoff-cap", "1e300"}});
  const std::string id = scalar(connection, "SELECT pgtq.push('default', 'throw_runtime')");
  CHECK_MESSAGE(eventually([&] { return scheduled_a_century_ahead(connection, id); }, 20s),
                std::string(daemon.log() + field(connection, "state || ' ' || coalesce(last_error, '')", id)));
  CHECK(field(connection, "attempts", id) == "1");
}
