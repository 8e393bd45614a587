// isolation = process, tasks handed to a worker process behind the one it runs (its next Run
// frames wait in its socket): when the worker dies, times out or is stopped, what it had not
// started goes back to the queue and runs once, its attempt not counted; many short tasks run
// exactly once each. crash.so, runaway.so and ledger.so are in tests/plugins.
#include "support/daemon_process.hpp"
#include "support/ledger.hpp"
#include "support/processes.hpp"
#include "support/sql.hpp"
#include "support/task_state.hpp"
#include "support/test_database.hpp"

#include <doctest/doctest.h>

#include <signal.h>

#include <string>
#include <vector>

using namespace pgtq;
using namespace pgtq::test;

namespace {

// Pushes `count` ledger tasks; returns their ids, in claim order.
std::vector<std::string> push_ledgers(db::Connection& connection, int count) {
  std::vector<std::string> ids;
  for (int i = 0; i < count; ++i) {
    ids.push_back(push_to_default(connection, "ledger", "{}"));
  }
  return ids;
}

// Each task succeeded at its first attempt and ran exactly once.
void check_ran_once(db::Connection& connection,
                    const std::vector<std::string>& ids,
                    const DaemonProcess& daemon) {
  for (const std::string& id : ids) {
    CAPTURE(id);
    REQUIRE_MESSAGE(reaches(connection, id, "succeeded", 30s), daemon.log());
    CHECK(field(connection, "attempts", id) == "1");
    CHECK(count(connection, "SELECT count(*) FROM ledger WHERE task_id = $1::bigint", {id}) == 1);
  }
}

} // namespace

TEST_CASE("isolation = process: tasks waiting in a worker behind one that crashes it run once "
          "on its replacement, their attempts not counted") {
  TestDatabase database;
  db::Connection connection = database.connect();
  create_ledger(connection);
  // Pushed before pgtqd starts: its first claim takes them all, in this order. While the first
  // runs its 5 ms the claim loop has handed the pool the rest, so the one pool thread has
  // queued the ledger tasks in its worker behind crash (behind the first too, or taken them
  // back after 10 ms and queued them again behind crash) when crash kills it.
  const std::string first = push_to_default(connection, "ledger", R"({"sleep_ms": 5})");
  const std::string crash = push_to_default(connection, "crash", R"({"how": "segv"})", "1");
  const std::vector<std::string> ledgers = push_ledgers(connection, 6);
  DaemonProcess daemon({.dsn = database.dsn(),
                        .plugin_dirs = {test_plugin_dir("crash"), test_plugin_dir("ledger")},
                        .extra_args = {"--isolation",
                                       "process",
                                       "--concurrency",
                                       "1",
                                       "--prefetch",
                                       "7",
                                       "--log-level",
                                       "debug"},
                        .env = {{"PGTQ_LEDGER_DSN", database.dsn()}}});
  REQUIRE_MESSAGE(reaches(connection, crash, "failed", 30s), daemon.log());
  CHECK(field(connection, "attempts", crash) == "1");
  CHECK(field(connection, "last_error", crash).find("killed by SIGSEGV") != std::string::npos);
  check_ran_once(connection, ledgers, daemon);
  check_ran_once(connection, {first}, daemon);
  // The path this test is for, when the crash is seen within 10 ms. A worker seen dead later
  // (an instrumented one takes 15-20 ms, as the kernel tears its large memory map down before
  // it closes its socket; any on a loaded host) finds the runner has taken the waiting tasks
  // back itself, as it does behind any attempt that runs 10 ms: the other path, with the same
  // guarantees, checked above. Which one ran is a matter of timing, so it is reported, not
  // asserted.
  if (daemon.log().find("was waiting in worker 1") == std::string::npos) {
    MESSAGE("the crash was seen after the waiting tasks were taken back (the other path)");
  }
  CHECK(daemon.running());
}

TEST_CASE("isolation = process: a task whose worker dies before it starts it runs again "
          "elsewhere, its attempt not counted") {
  TestDatabase database;
  db::Connection connection = database.connect();
  create_ledger(connection);
  DaemonProcess daemon(
      {.dsn = database.dsn(),
       .plugin_dirs = {test_plugin_dir("ledger")},
       .extra_args = {"--isolation", "process", "--concurrency", "1", "--log-level", "debug"},
       .env = {{"PGTQ_LEDGER_DSN", database.dsn()}}});
  // A first task: the worker is ready, and idle once it has run it.
  check_ran_once(connection, {push_to_default(connection, "ledger", "{}")}, daemon);
  const std::vector<pid_t> workers = children(daemon.pid());
  REQUIRE(workers.size() == 1);
  // Stopped, the worker cannot read the next Run, let alone take its start gate: it dies
  // with the Run sent and not started.
  REQUIRE(::kill(workers[0], SIGSTOP) == 0);
  const std::string id = push_to_default(connection, "ledger", "{}");
  REQUIRE_MESSAGE(daemon.wait_for_log(started(id, "ledger", "1/5"), 20s), daemon.log());
  REQUIRE(::kill(workers[0], SIGKILL) == 0);
  check_ran_once(connection, {id}, daemon);
  CHECK(field(connection, "last_error", id).empty());
  CHECK_MESSAGE(daemon.log().find("before it started task " + id) != std::string::npos,
                daemon.log());
}

TEST_CASE("isolation = process: a task waiting behind one that overruns its timeout runs "
          "once, elsewhere or after the worker is replaced, its attempt not counted") {
  TestDatabase database;
  db::Connection connection = database.connect();
  create_ledger(connection);
  // spin ignores should_stop() and has a 2 s timeout of its own.
  const std::string spin = push_to_default(connection, "spin", "[]", "1");
  const std::vector<std::string> ledgers = push_ledgers(connection, 2);
  DaemonProcess daemon({.dsn = database.dsn(),
                        .plugin_dirs = {test_plugin_dir("runaway"), test_plugin_dir("ledger")},
                        .extra_args = {"--isolation",
                                       "process",
                                       "--concurrency",
                                       "1",
                                       "--prefetch",
                                       "2",
                                       "--timeout-grace",
                                       "1"},
                        .env = {{"PGTQ_LEDGER_DSN", database.dsn()}}});
  REQUIRE_MESSAGE(reaches(connection, spin, "failed", 30s), daemon.log());
  const std::string error = field(connection, "last_error", spin);
  CHECK_MESSAGE(error.find("timed out after 2 s") != std::string::npos, error);
  check_ran_once(connection, ledgers, daemon);
}

TEST_CASE("isolation = process: tasks with large args claimed behind one that overruns its "
          "timeout do not hold up its kill, and each runs once") {
  TestDatabase database;
  db::Connection connection = database.connect();
  create_ledger(connection);
  // Three Runs of 300 KiB fill a socket's default buffer several times over: written to a
  // worker whose handler spins (reading nothing), they would block the pool thread, and with
  // it the spin's timeout and kill, until the spin ended by itself (never).
  const std::string pad(300 * 1024, 'x');
  const std::string spin = push_to_default(connection, "spin", "[]", "1");
  std::vector<std::string> ledgers;
  for (int i = 0; i < 3; ++i) {
    ledgers.push_back(push_to_default(connection, "ledger", R"({"pad": ")" + pad + R"("})"));
  }
  DaemonProcess daemon({.dsn = database.dsn(),
                        .plugin_dirs = {test_plugin_dir("runaway"), test_plugin_dir("ledger")},
                        .extra_args = {"--isolation",
                                       "process",
                                       "--concurrency",
                                       "1",
                                       "--prefetch",
                                       "3",
                                       "--timeout-grace",
                                       "1"},
                        .env = {{"PGTQ_LEDGER_DSN", database.dsn()}}});
  // 2 s of timeout and 1 s of grace, with room for a loaded host.
  REQUIRE_MESSAGE(reaches(connection, spin, "failed", 10s), daemon.log());
  const std::string error = field(connection, "last_error", spin);
  CHECK_MESSAGE(error.find("timed out after 2 s") != std::string::npos, error);
  check_ran_once(connection, ledgers, daemon);
  CHECK(daemon.running());
}

TEST_CASE("isolation = process: cancelling a task with others waiting behind it in its worker "
          "ends it cancelled, and the others run once") {
  TestDatabase database;
  db::Connection connection = database.connect();
  create_ledger(connection);
  const std::string spin = push_to_default(connection, "spin_forever", "[]");
  const std::vector<std::string> ledgers = push_ledgers(connection, 2);
  DaemonProcess daemon({.dsn = database.dsn(),
                        .plugin_dirs = {test_plugin_dir("runaway"), test_plugin_dir("ledger")},
                        .extra_args = {"--isolation",
                                       "process",
                                       "--concurrency",
                                       "1",
                                       "--prefetch",
                                       "2",
                                       "--timeout-grace",
                                       "1",
                                       "--log-level",
                                       "debug"},
                        .env = {{"PGTQ_LEDGER_DSN", database.dsn()}}});
  REQUIRE_MESSAGE(daemon.wait_for_log(started(spin, "spin_forever", "1/5"), 20s), daemon.log());
  CHECK(scalar(connection, "SELECT pgtq.cancel($1::bigint)", {spin}) == "t");
  REQUIRE_MESSAGE(reaches(connection, spin, "cancelled", 20s), daemon.log());
  check_ran_once(connection, ledgers, daemon);
}

TEST_CASE("isolation = process: cancelling tasks claimed behind a running one never runs them, "
          "wherever they wait") {
  TestDatabase database;
  db::Connection connection = database.connect();
  create_ledger(connection);
  DaemonProcess daemon(
      {.dsn = database.dsn(),
       .plugin_dirs = {test_plugin_dir("ledger")},
       .extra_args = {"--isolation", "process", "--concurrency", "1", "--prefetch", "3"},
       .env = {{"PGTQ_LEDGER_DSN", database.dsn()}}});
  REQUIRE(daemon.wait_for_log("listening as", 20s));
  const std::string slow =
      scalar(connection, "SELECT pgtq.push('default', 'ledger', '{\"sleep_ms\": 3000}')");
  REQUIRE_MESSAGE(reaches(connection, slow, "running", 10s), daemon.log());
  const std::vector<std::string> waiting = push_ledgers(connection, 3);
  for (const std::string& id : waiting) {
    REQUIRE_MESSAGE(reaches(connection, id, "running", 10s), daemon.log());
  }
  for (const std::string& id : waiting) {
    CHECK(scalar(connection, "SELECT pgtq.cancel($1::bigint)", {id}) == "t");
  }
  for (const std::string& id : waiting) {
    CAPTURE(id);
    CHECK_MESSAGE(reaches(connection, id, "cancelled", 20s), daemon.log());
    CHECK(count(connection, "SELECT count(*) FROM ledger WHERE task_id = $1::bigint", {id}) == 0);
  }
  CHECK_MESSAGE(reaches(connection, slow, "succeeded", 20s), daemon.log());
}

TEST_CASE("isolation = process: many short tasks, several waiting in each worker, each run "
          "exactly once at its first attempt") {
  TestDatabase database;
  db::Connection connection = database.connect();
  create_ledger(connection);
  push_ledger_tasks(connection, 1500, "{}");
  DaemonProcess daemon({.dsn = database.dsn(),
                        .plugin_dirs = {test_plugin_dir("ledger")},
                        .extra_args = {"--isolation", "process", "--concurrency", "3"},
                        .env = {{"PGTQ_LEDGER_DSN", database.dsn()}}});
  REQUIRE_MESSAGE(eventually([&] { return unfinished(connection) == 0; }, 60s), daemon.log());
  CHECK(count(connection, "SELECT count(*) FROM pgtq.tasks WHERE state = 'succeeded'") == 1500);
  CHECK(count(connection, "SELECT count(*) FROM pgtq.tasks WHERE attempts <> 1") == 0);
  CHECK(count(connection, "SELECT count(*) FROM ledger") == 1500);
  CHECK(count(connection, "SELECT count(DISTINCT task_id) FROM ledger") == 1500);
  CHECK(daemon.log().find("discarded") == std::string::npos);
}
