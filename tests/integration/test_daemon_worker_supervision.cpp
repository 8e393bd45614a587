// isolation = process, the supervision of worker processes: a handler that ignores
// should_stop after a cancellation, a lost lease or shutdown is killed timeout-grace later
// and its slot freed; no task is held while no worker can be started; a worker that runs out
// of memory and then dies is said to have hit the cap. runaway.so, worker_refuses.so.
#include "support/daemon_process.hpp"
#include "support/notify_socket.hpp"
#include "support/processes.hpp"
#include "support/sql.hpp"
#include "support/task_state.hpp"
#include "support/test_database.hpp"

#include <doctest/doctest.h>

#include <dirent.h>
#include <unistd.h>

#include <csignal>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

using namespace pgtq;
using namespace pgtq::test;

namespace {

using Clock = std::chrono::steady_clock;

// A column of live_tasks the tasks view does not show.
std::string
live_field(db::Connection& connection, const std::string& column, const std::string& id) {
  return scalar(
      connection, "SELECT " + column + "::text FROM pgtq.live_tasks WHERE id = $1::bigint", {id});
}

} // namespace

TEST_CASE("isolation = process: a cancelled handler that ignores should_stop is killed "
          "timeout-grace later, its task ends cancelled, and its slot runs the next task") {
  TestDatabase database;
  db::Connection connection = database.connect();
  DaemonProcess daemon({.dsn = database.dsn(),
                        .plugin_dirs = {test_plugin_dir("runaway")},
                        .extra_args = {"--isolation",
                                       "process",
                                       "--concurrency",
                                       "1",
                                       "--timeout-grace",
                                       "1",
                                       "--log-level",
                                       "debug"}});
  const std::string spin = push_to_default(connection, "spin_forever", "[]");
  REQUIRE_MESSAGE(daemon.wait_for_log(started(spin, "spin_forever", "1/5"), 20s), daemon.log());
  CHECK(scalar(connection, "SELECT pgtq.cancel($1::bigint)", {spin}) == "t");
  const auto cancelled_at = Clock::now();
  REQUIRE_MESSAGE(reaches(connection, spin, "cancelled", 10s), daemon.log());
  CHECK(Clock::now() - cancelled_at < 3s);
  const std::string error = field(connection, "last_error", spin);
  CHECK_MESSAGE(error.find("did not return within 1 s (timeout-grace)") != std::string::npos,
                error);
  const std::string nap = push_to_default(connection, "nap", R"({"ms": 10})");
  CHECK_MESSAGE(reaches(connection, nap, "succeeded", 10s), daemon.log());
}

TEST_CASE("isolation = process: a handler that ignores should_stop after its lease was lost is "
          "killed timeout-grace later, nothing is recorded for it, and its slot is freed") {
  TestDatabase database;
  db::Connection connection = database.connect();
  DaemonProcess daemon({.dsn = database.dsn(),
                        .plugin_dirs = {test_plugin_dir("runaway")},
                        .extra_args = {"--isolation",
                                       "process",
                                       "--concurrency",
                                       "1",
                                       "--timeout-grace",
                                       "1",
                                       "--lease",
                                       "30",
                                       "--heartbeat",
                                       "0.5",
                                       "--no-scheduler",
                                       "--log-level",
                                       "debug"}});
  const std::string spin = push_to_default(connection, "spin_forever", "[]", "1");
  REQUIRE_MESSAGE(daemon.wait_for_log(started(spin, "spin_forever", "1/1"), 20s), daemon.log());
  // As if it had been rescued and claimed elsewhere: the daemon's claim matches no more.
  scalar(connection,
         "UPDATE pgtq.live_tasks SET claim = claim # 1 WHERE id = $1::bigint RETURNING claim",
         {spin});
  const std::string claim = live_field(connection, "claim", spin);
  REQUIRE_MESSAGE(daemon.wait_for_log("task " + spin + ": lease lost", 10s), daemon.log());
  REQUIRE_MESSAGE(daemon.wait_for_log("task " + spin +
                                          " (spin_forever) lost its lease before "
                                          "it finished; given back",
                                      10s),
                  daemon.log());
  const std::string nap = push_to_default(connection, "nap", R"({"ms": 10})");
  CHECK_MESSAGE(reaches(connection, nap, "succeeded", 10s), daemon.log());
  // Nothing was recorded for the lost attempt.
  CHECK(field(connection, "state", spin) == "running");
  CHECK(live_field(connection, "claim", spin) == claim);
  CHECK(field(connection, "attempts", spin) == "1");
}

TEST_CASE("isolation = process: at shutdown an unfinished task is released only once its "
          "worker is gone, so that it never runs here and elsewhere at once") {
  TestDatabase database;
  db::Connection connection = database.connect();
  DaemonProcess daemon({.dsn = database.dsn(),
                        .plugin_dirs = {test_plugin_dir("runaway")},
                        .extra_args = {"--isolation",
                                       "process",
                                       "--concurrency",
                                       "1",
                                       "--shutdown-grace",
                                       "0.5",
                                       "--timeout-grace",
                                       "1",
                                       "--log-level",
                                       "debug"}});
  const std::string spin = push_to_default(connection, "spin_forever", "[]");
  REQUIRE_MESSAGE(daemon.wait_for_log(started(spin, "spin_forever", "1/5"), 20s), daemon.log());
  const std::vector<pid_t> workers = children(daemon.pid());
  REQUIRE(workers.size() == 1);
  daemon.signal(SIGTERM);
  // Still held (running here) until the worker is killed: never queued while it lives.
  bool queued_while_alive = false;
  CHECK(eventually(
      [&] {
        const bool alive = ::access(("/proc/" + std::to_string(workers[0])).c_str(), F_OK) == 0;
        const std::string state = field(connection, "state", spin);
        queued_while_alive = queued_while_alive || (alive && state == "queued");
        return !alive && state == "queued";
      },
      10s));
  CHECK_FALSE(queued_while_alive);
  const auto status = daemon.wait_exit(10s);
  REQUIRE_MESSAGE(status.has_value(), daemon.log());
  CHECK(WIFEXITED(*status));
  CHECK(field(connection, "attempts", spin) == "0");
  CHECK(daemon.log().find("released 1 unfinished task") != std::string::npos);
}

TEST_CASE("isolation = process: while no worker process can be started nothing is claimed, and "
          "the tasks wait queued until one can") {
  TestDatabase database;
  db::Connection connection = database.connect();
  const std::string refuse = "/tmp/pgtqd-test-refuse-" + std::to_string(::getpid());
  std::ofstream(refuse).put('x');
  DaemonProcess daemon({.dsn = database.dsn(),
                        .plugin_dirs = {test_plugin_dir("worker_refuses")},
                        .extra_args = {"--isolation", "process", "--concurrency", "2"},
                        .env = {{"PGTQ_TEST_REFUSE_FILE", refuse}}});
  REQUIRE_MESSAGE(daemon.wait_for_log("worker 1 could not be started", 20s), daemon.log());
  REQUIRE_MESSAGE(daemon.wait_for_log("worker 2 could not be started", 20s), daemon.log());
  std::vector<std::string> ids;
  for (int i = 0; i < 4; ++i) {
    ids.push_back(push_to_default(connection, "worker_refuses", "[]"));
  }
  std::this_thread::sleep_for(2s);
  for (const std::string& id : ids) {
    CAPTURE(id);
    CHECK_MESSAGE(field(connection, "state", id) == "queued", daemon.log());
    CHECK(field(connection, "attempts", id) == "0");
    CHECK_MESSAGE(live_field(connection, "claims", id) == "0", daemon.log());
  }
  CHECK_MESSAGE(daemon.log().find("no worker process can be started; claiming no tasks") !=
                    std::string::npos,
                daemon.log());
  ::unlink(refuse.c_str());
  for (const std::string& id : ids) {
    CAPTURE(id);
    CHECK_MESSAGE(reaches(connection, id, "succeeded", 30s), daemon.log());
    CHECK(field(connection, "attempts", id) == "1");
  }
}

TEST_CASE("isolation = process: a worker that runs out of memory under worker-memory-limit "
          "counts one restart, and one that dies after it is said to have hit the cap") {
#if defined(__SANITIZE_ADDRESS__)
  MESSAGE("skipped under AddressSanitizer");
  return;
#endif
  TestDatabase database;
  db::Connection connection = database.connect();
  NotifySocket notify;
  DaemonProcess daemon(
      {.dsn = database.dsn(),
       .plugin_dirs = {test_plugin_dir("runaway")},
       .extra_args =
           {"--isolation", "process", "--concurrency", "1", "--worker-memory-limit", "256"},
       .env = {{"NOTIFY_SOCKET", notify.path()}}});
  const std::string hog = push_to_default(connection, "hog", "[]", "1");
  REQUIRE_MESSAGE(reaches(connection, hog, "failed", 60s), daemon.log());
  const std::string nap = push_to_default(connection, "nap", R"({"ms": 10})");
  REQUIRE_MESSAGE(reaches(connection, nap, "succeeded", 20s), daemon.log());
  // One recycled worker, one restart (the STATUS line comes every 2 s).
  notify.read_until("1 worker restart", 10s);
  notify.read_until("READY=1", 3s); // a little more of it
  CHECK(notify.received("1 worker restart"));
  CHECK_FALSE(notify.received("2 worker restarts"));

  const std::string aborts = push_to_default(connection, "hog_then_abort", "[]", "1");
  REQUIRE_MESSAGE(reaches(connection, aborts, "failed", 60s), daemon.log());
  const std::string error = field(connection, "last_error", aborts);
  CHECK_MESSAGE(error.find("out of memory: the worker reached worker-memory-limit (256 MiB), "
                           "then killed by SIGABRT") != std::string::npos,
                error);
}
