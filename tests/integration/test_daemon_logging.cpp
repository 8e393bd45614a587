// What pgtqd's log and pg_stat_activity say: each outcome as what became of the task, server
// notices as log lines with a level, and connections named after their queue and role.
#include "support/daemon_process.hpp"
#include "support/sql.hpp"
#include "support/task_state.hpp"
#include "support/test_database.hpp"

#include <doctest/doctest.h>

#include <set>
#include <sstream>

using namespace pgtq;
using namespace pgtq::test;

namespace {

std::set<std::string> application_names(db::Connection& connection) {
  const db::Result rows = query(connection,
                                "SELECT DISTINCT application_name FROM "
                                "pg_stat_activity WHERE datname = current_database() "
                                "AND pid <> pg_backend_pid()");
  std::set<std::string> names;
  for (int row = 0; row < rows.rows(); ++row) {
    names.insert(rows.string(row, 0));
  }
  return names;
}

// The log line that mentions text, or "".
std::string line_with(const std::string& log, const std::string& text) {
  std::istringstream lines(log);
  for (std::string line; std::getline(lines, line);) {
    if (line.find(text) != std::string::npos) {
      return line;
    }
  }
  return {};
}

} // namespace

TEST_CASE("outcomes are logged as what became of the task: retried, out of attempts, failed") {
  TestDatabase database;
  db::Connection connection = database.connect();
  const std::string retried = scalar(
      connection, "SELECT pgtq.push('default', 'flaky', '{\"fail_times\": 5}', max_attempts => 2)");
  const std::string refused =
      scalar(connection, "SELECT pgtq.push('default', 'add_numbers', '[1]')");
  const std::string fine =
      scalar(connection, "SELECT pgtq.push('default', 'add_numbers', '[1, 2]')");
  DaemonProcess daemon({.dsn = database.dsn(),
                        .extra_args = {"--log-level",
                                       "debug",
                                       "--scheduler-interval",
                                       "0.1",
                                       "--backoff-base",
                                       "0.1",
                                       "--backoff-cap",
                                       "0.2"}});
  REQUIRE_MESSAGE(reaches(connection, retried, "failed"), daemon.log());
  REQUIRE_MESSAGE(reaches(connection, refused, "failed"), daemon.log());
  REQUIRE_MESSAGE(reaches(connection, fine, "succeeded"), daemon.log());
  // Each line is written once its outcome's commit is back, a moment after the state shows.
  for (const std::string& line :
       {"task " + retried + " (flaky) failed: attempt 2/2 was its last",
        "task " + refused + " (add_numbers) failed permanently at attempt 1/",
        "task " + fine + " (add_numbers) attempt 1/5 succeeded in"}) {
    CHECK_MESSAGE(daemon.wait_for_log(line, 10s), daemon.log());
  }
  const std::string log = daemon.log();
  CHECK_MESSAGE(
      !line_with(log, "task " + retried + " (flaky) attempt 1/2 failed, retrying in").empty(), log);
  CHECK_MESSAGE(
      !line_with(log, "task " + retried + " (flaky) failed: attempt 2/2 was its last").empty(),
      log);
  CHECK_MESSAGE(
      !line_with(log, "task " + refused + " (add_numbers) failed permanently at attempt 1/")
           .empty(),
      log);
  CHECK_MESSAGE(!line_with(log, "task " + fine + " (add_numbers) attempt 1/5 succeeded in").empty(),
                log);
  // When a worker took it up (a claimed task may still go back unstarted until then).
  CHECK_MESSAGE(!line_with(log, "task " + fine + " (add_numbers) attempt 1/5 started").empty(),
                log);
}

TEST_CASE("server notices reach pgtqd's log as lines of the db logger with their level") {
  TestDatabase database;
  db::Connection connection = database.connect();
  query(connection,
        "CREATE FUNCTION warn_on_claim() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN RAISE WARNING 'claim-seen-by-trigger'; RETURN NEW; END $$");
  query(connection,
        "CREATE TRIGGER warn_on_claim BEFORE UPDATE ON pgtq.live_tasks "
        "FOR EACH ROW EXECUTE FUNCTION warn_on_claim()");
  DaemonProcess daemon({.dsn = database.dsn()});
  const std::string id = scalar(connection, "SELECT pgtq.push('default', 'add_numbers', '[1, 2]')");
  REQUIRE_MESSAGE(reaches(connection, id, "succeeded"), daemon.log());
  REQUIRE(daemon.wait_for_log("claim-seen-by-trigger", 10s));
  const std::string line = line_with(daemon.log(), "claim-seen-by-trigger");
  CHECK_MESSAGE(
      line.find("warning db[default]: server: claim-seen-by-trigger") != std::string::npos, line);
}

TEST_CASE(
    "each pgtqd connection is named after its queue, role and worker, and the DSN may override") {
  TestDatabase database;
  db::Connection connection = database.connect();
  SUBCASE("named by pgtqd") {
    DaemonProcess daemon({.dsn = database.dsn(), .extra_args = {"--worker-name", "w1"}});
    REQUIRE(daemon.wait_for_log("listening as", 20s));
    const std::set<std::string> expected = {"pgtqd:default:claim:w1",
                                            "pgtqd:default:complete:w1",
                                            "pgtqd:default:lease:w1",
                                            "pgtqd:default:schedule:w1"};
    CHECK_MESSAGE(eventually([&] { return application_names(connection) == expected; }, 10s),
                  daemon.log());
  }
  SUBCASE("a long worker name is cut to 63 bytes, not inside a character") {
    const std::string worker = std::string(40, 'x') + "\xC3\xA9\xC3\xA9\xC3\xA9\xC3\xA9";
    DaemonProcess daemon({.dsn = database.dsn(), .extra_args = {"--worker-name", worker}});
    REQUIRE(daemon.wait_for_log("listening as", 20s));
    CHECK(eventually([&] { return application_names(connection).size() == 4; }, 10s));
    for (const std::string& name : application_names(connection)) {
      CHECK(name.size() <= 63);
      CHECK(name.starts_with("pgtqd:default:"));
    }
  }
  SUBCASE("application_name in the DSN wins") {
    DaemonProcess daemon({.dsn = database.dsn() + " application_name=billing"});
    REQUIRE(daemon.wait_for_log("listening as", 20s));
    CHECK_MESSAGE(
        eventually(
            [&] { return application_names(connection) == std::set<std::string>{"billing"}; }, 10s),
        daemon.log());
  }
}
