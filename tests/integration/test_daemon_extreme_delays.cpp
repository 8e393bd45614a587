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

const std::string k_two_to_the_1000 =
    "1071508607186267320948425049060001810561404811705533607443750388370351051124936122493198378815"
    "6958581275946729175531468251871452856923140435984577574698574803934567774824230985421074605062"
    "3711418779541821530464749835819412673987675591655439460770629145711964776865421676604298316526"
    "24386837205668069376";

// Whether the task waits, scheduled, at least `least_years` and at most 100 years (and a day,
// for the clock) from now.
bool scheduled_a_century_ahead(db::Connection& connection,
                               const std::string& id,
                               int least_years = 99) {
  return scalar(connection,
                "SELECT state = 'scheduled' AND run_at BETWEEN "
                "now() + make_interval(years => $2::integer) "
                "AND now() + interval '100 years 1 day' "
                "FROM pgtq.tasks WHERE id = $1::bigint",
                {id, std::to_string(least_years)}) == "t";
}

} // namespace

TEST_CASE("a snooze of 1e301 seconds delays the task by 100 years instead of failing it") {
  TestDatabase database;
  db::Connection connection = database.connect();
  DaemonProcess daemon({.dsn = database.dsn(), .plugin_dirs = {test_plugin_dir("snooze")}});
  // 2^1000 seconds, written out: a number a double holds exactly (a handler refuses an integer
  // it cannot hold exactly, and jsonb writes 1e300 out as such an integer).
  const std::string id = scalar(connection,
                                "SELECT pgtq.push('default', 'snooze_once', "
                                "jsonb_build_object('seconds', $1::numeric))",
                                {k_two_to_the_1000});
  CHECK_MESSAGE(eventually([&] { return scheduled_a_century_ahead(connection, id); }, 20s),
                std::string(daemon.log() +
                            field(connection, "state || ' ' || coalesce(last_error, '')", id)));
  CHECK(field(connection, "attempts", id) == "0");
}

TEST_CASE("the longest backoff, with its jitter, delays a retry by at most 100 years") {
  TestDatabase database;
  db::Connection connection = database.connect();
  // throw_runtime is retried with the daemon's backoff policy (flaky has one of its own).
  DaemonProcess daemon(
      {.dsn = database.dsn(),
       .plugin_dirs = {test_plugin_dir("throws")},
       .extra_args = {"--backoff-base", "3155760000", "--backoff-cap", "3155760000"}});
  const std::string id = scalar(connection, "SELECT pgtq.push('default', 'throw_runtime')");
  // 100 years with +-20 % jitter: 80 years or more, and never past the 100-year cap.
  CHECK_MESSAGE(eventually([&] { return scheduled_a_century_ahead(connection, id, 79); }, 20s),
                std::string(daemon.log() +
                            field(connection, "state || ' ' || coalesce(last_error, '')", id)));
  CHECK(field(connection, "attempts", id) == "1");
}
