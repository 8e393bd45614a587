// isolation = process: a handler that crashes, hangs past its timeout or allocates without
// bound costs its own attempt, recorded at once, while pgtqd and the other tasks go on; the
// worker processes name themselves in ps. runaway.so and crash.so are in tests/plugins.
#include "support/daemon_process.hpp"
#include "support/processes.hpp"
#include "support/sql.hpp"
#include "support/task_state.hpp"
#include "support/test_database.hpp"

#include <doctest/doctest.h>

#include <dirent.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

using namespace pgtq;
using namespace pgtq::test;

namespace {

using Clock = std::chrono::steady_clock;

const std::vector<std::string> k_fast_retries = {
    "--backoff-base", "0.1", "--backoff-cap", "0.2", "--scheduler-interval", "0.1"};

std::vector<std::string> with(std::vector<std::string> args, const std::vector<std::string>& more) {
  args.insert(args.end(), more.begin(), more.end());
  return args;
}

} // namespace

TEST_CASE("isolation = process: a handler's SIGSEGV costs its own attempt, recorded at once, "
          "and three tasks running beside it succeed") {
  TestDatabase database;
  db::Connection connection = database.connect();
  DaemonProcess daemon(
      {.dsn = database.dsn(),
       .plugin_dirs = {test_plugin_dir("crash"), test_plugin_dir("runaway")},
       .extra_args = with({"--isolation", "process", "--concurrency", "4", "--log-level", "debug"},
                          k_fast_retries)});
  REQUIRE_MESSAGE(daemon.wait_for_log("listening as", 20s), daemon.log());
  std::vector<std::string> naps;
  for (int i = 0; i < 3; ++i) {
    naps.push_back(push_to_default(connection, "nap", R"({"ms": 2500})"));
  }
  for (const std::string& id : naps) {
    REQUIRE_MESSAGE(daemon.wait_for_log(started(id, "nap", "1/5"), 20s), daemon.log());
  }
  const std::string crash = push_to_default(connection, "crash", R"({"how": "segv"})", "2");
  const std::string died = "killed by SIGSEGV while running task " + crash + " (crash) attempt 1/2";
  REQUIRE_MESSAGE(daemon.wait_for_log(died, 20s), daemon.log());
  const auto crashed_at = Clock::now();
  // Recorded at once: not after a lease, which is 15 s here.
  REQUIRE_MESSAGE(eventually(
                      [&] {
                        return field(connection, "last_error", crash).find("killed by SIGSEGV") !=
                               std::string::npos;
                      },
                      5s),
                  daemon.log());
  CHECK(Clock::now() - crashed_at < 1s);
  // Retried, crashes again, and with max_attempts 2 it ends failed.
  REQUIRE_MESSAGE(reaches(connection, crash, "failed", 30s), daemon.log());
  CHECK(field(connection, "attempts", crash) == "2");
  CHECK(field(connection, "last_error", crash).find("killed by SIGSEGV") != std::string::npos);
  for (const std::string& id : naps) {
    CAPTURE(id);
    REQUIRE_MESSAGE(reaches(connection, id, "succeeded", 30s), daemon.log());
    CHECK(field(connection, "attempts", id) == "1");
  }
  CHECK(daemon.running());
  CHECK(daemon.log().find("worker crash") == std::string::npos); // no STATUS outside systemd
  // The crashed worker was replaced: a new task runs.
  const std::string after = push_to_default(connection, "crash", "{}");
  CHECK_MESSAGE(reaches(connection, after, "succeeded", 20s), daemon.log());
}

TEST_CASE("isolation = process: a worker that dies while a child its handler forked holds its "
          "socket open is seen dead at once") {
  TestDatabase database;
  db::Connection connection = database.connect();
  DaemonProcess daemon({.dsn = database.dsn(),
                        .plugin_dirs = {test_plugin_dir("crash")},
                        .extra_args = {"--isolation", "process", "--concurrency", "1"}});
  REQUIRE_MESSAGE(daemon.wait_for_log("listening as", 20s), daemon.log());
  // The child sleeps 10 s with the worker's end of the socket: no end of file before then.
  const std::string crash = push_to_default(connection, "crash", R"({"how": "fork_segv"})", "1");
  REQUIRE_MESSAGE(eventually([&] { return field(connection, "state", crash) != "queued"; }, 20s),
                  daemon.log());
  const auto claimed_at = Clock::now();
  REQUIRE_MESSAGE(reaches(connection, crash, "failed", 5s), daemon.log());
  CHECK(Clock::now() - claimed_at < 2s);
  const std::string error = field(connection, "last_error", crash);
  CHECK_MESSAGE(error.find("killed by SIGSEGV") != std::string::npos, error);
  // The slot has a new worker.
  const std::string after = push_to_default(connection, "crash", "{}");
  CHECK_MESSAGE(reaches(connection, after, "succeeded", 5s), daemon.log());
}

TEST_CASE("isolation = process: a handler that ignores should_stop is killed at its timeout plus "
          "the grace, its attempt recorded as timed out, and its worker replaced") {
  TestDatabase database;
  db::Connection connection = database.connect();
  DaemonProcess daemon({.dsn = database.dsn(),
                        .plugin_dirs = {test_plugin_dir("runaway")},
                        .extra_args = with({"--isolation",
                                            "process",
                                            "--concurrency",
                                            "2",
                                            "--timeout-grace",
                                            "1",
                                            "--log-level",
                                            "debug"},
                                           k_fast_retries)});
  REQUIRE_MESSAGE(daemon.wait_for_log("listening as", 20s), daemon.log());
  const std::string nap = push_to_default(connection, "nap", R"({"ms": 4000})");
  REQUIRE_MESSAGE(daemon.wait_for_log(started(nap, "nap", "1/5"), 20s), daemon.log());
  // spin registers a 2 s timeout for itself.
  const std::string spin = push_to_default(connection, "spin", "[]", "1");
  REQUIRE_MESSAGE(daemon.wait_for_log(started(spin, "spin", "1/1"), 20s), daemon.log());
  const auto spin_started = Clock::now();
  REQUIRE_MESSAGE(reaches(connection, spin, "failed", 20s), daemon.log());
  // timeout + grace + 1 s, measured from when the test saw the start (a little after it).
  CHECK(Clock::now() - spin_started < 4s);
  const std::string error = field(connection, "last_error", spin);
  CHECK_MESSAGE(error.find("timed out after 2 s") != std::string::npos, error);
  CHECK_MESSAGE(daemon.wait_for_log("task " + spin + " (spin) timed out after 2 s in worker", 10s),
                daemon.log());
  CHECK_MESSAGE(daemon.wait_for_log("started again", 10s), daemon.log());
  REQUIRE_MESSAGE(reaches(connection, nap, "succeeded", 20s), daemon.log());
  CHECK(field(connection, "attempts", nap) == "1");
  CHECK(daemon.running());
}

TEST_CASE("isolation = process: the daemon's task-timeout applies to task names without one") {
  TestDatabase database;
  db::Connection connection = database.connect();
  DaemonProcess daemon({.dsn = database.dsn(),
                        .plugin_dirs = {test_plugin_dir("runaway")},
                        .extra_args = {"--isolation",
                                       "process",
                                       "--concurrency",
                                       "1",
                                       "--task-timeout",
                                       "0.5",
                                       "--timeout-grace",
                                       "0.2"}});
  const std::string forever = push_to_default(connection, "spin_forever", "[]", "1");
  REQUIRE_MESSAGE(reaches(connection, forever, "failed", 20s), daemon.log());
  const std::string error = field(connection, "last_error", forever);
  CHECK_MESSAGE(error.find("timed out after 0.5 s") != std::string::npos, error);
  // A task name with a timeout of its own keeps it (spin: 2 s); nap finishes within 0.5 s.
  const std::string nap = push_to_default(connection, "nap", R"({"ms": 10})");
  CHECK_MESSAGE(reaches(connection, nap, "succeeded", 20s), daemon.log());
}

TEST_CASE("isolation = process: a handler allocating without bound under worker-memory-limit "
          "fails its attempt saying so, and the daemon lives on") {
#if defined(__SANITIZE_ADDRESS__)
  // AddressSanitizer's shadow memory counts against RLIMIT_DATA: no worker could start.
  MESSAGE("skipped under AddressSanitizer");
  return;
#endif
  TestDatabase database;
  db::Connection connection = database.connect();
  DaemonProcess daemon(
      {.dsn = database.dsn(),
       .plugin_dirs = {test_plugin_dir("runaway")},
       .extra_args = {
           "--isolation", "process", "--concurrency", "2", "--worker-memory-limit", "256"}});
  const std::string hog = push_to_default(connection, "hog", "[]", "1");
  REQUIRE_MESSAGE(reaches(connection, hog, "failed", 60s), daemon.log());
  const std::string error = field(connection, "last_error", hog);
  CHECK_MESSAGE(error.find("out of memory") != std::string::npos, error);
  CHECK_MESSAGE(error.find("worker-memory-limit (256 MiB)") != std::string::npos, error);
  CHECK(daemon.running());
  const std::string nap = push_to_default(connection, "nap", R"({"ms": 10})");
  CHECK_MESSAGE(reaches(connection, nap, "succeeded", 20s), daemon.log());
}

TEST_CASE("isolation = process: each worker names itself in ps, and a cancellation reaches the "
          "handler in its worker") {
  TestDatabase database;
  db::Connection connection = database.connect();
  DaemonProcess daemon(
      {.dsn = database.dsn(),
       .queue = "emails",
       .plugin_dirs = {test_plugin_dir("runaway")},
       .extra_args = {"--isolation", "process", "--concurrency", "2", "--log-level", "debug"}});
  REQUIRE_MESSAGE(daemon.wait_for_log("listening as", 20s), daemon.log());
  // argv[0] is the title from the exec on; the thread name (comm) and the end of the command
  // line follow once the worker has started: wait for all of it.
  std::vector<std::string> titles;
  std::vector<std::string> names;
  REQUIRE_MESSAGE(eventually(
                      [&] {
                        titles.clear();
                        names.clear();
                        for (const pid_t child : children(daemon.pid())) {
                          const std::string proc = "/proc/" + std::to_string(child);
                          titles.push_back(read_text(proc + "/cmdline"));
                          names.push_back(read_text(proc + "/comm"));
                        }
                        std::sort(titles.begin(), titles.end());
                        std::sort(names.begin(), names.end());
                        return names.size() == 2 && names[0] == "pgtqd: worker 1\n" &&
                               names[1] == "pgtqd: worker 2\n";
                      },
                      20s),
                  daemon.log());
  // The whole command line is the title: the rest of argv's bytes are zeroed.
  for (std::string& title : titles) {
    title.erase(title.find_last_not_of('\0') + 1);
  }
  CHECK(titles[0] == "pgtqd: worker 1 (queue emails)");
  CHECK(titles[1] == "pgtqd: worker 2 (queue emails)");

  const std::string nap =
      scalar(connection, "SELECT pgtq.push('emails', 'nap', '{\"ms\": 120000}')");
  REQUIRE_MESSAGE(daemon.wait_for_log(started(nap, "nap", "1/5"), 20s), daemon.log());
  CHECK(scalar(connection, "SELECT pgtq.cancel($1::bigint)", {nap}) == "t");
  REQUIRE_MESSAGE(reaches(connection, nap, "cancelled", 20s), daemon.log());
  CHECK(field(connection, "last_error", nap).find("nap: asked to stop") != std::string::npos);
}

TEST_CASE("a handler that stops at should_stop when its time is up records that it timed out, "
          "in both modes, and in thread mode pgtqd says timeouts are cooperative") {
  for (const std::string mode : {"thread", "process"}) {
    CAPTURE(mode);
    TestDatabase database;
    db::Connection connection = database.connect();
    DaemonProcess daemon({.dsn = database.dsn(),
                          .plugin_dirs = {test_plugin_dir("runaway")},
                          .extra_args = {"--isolation",
                                         mode,
                                         "--concurrency",
                                         "1",
                                         "--task-timeout",
                                         "1",
                                         "--timeout-grace",
                                         "30",
                                         "--backoff-base",
                                         "0.05"}});
    // Two attempts in the one worker: the retry must get its full time again, not start
    // already told to stop by what ended the first.
    const std::string nap = push_to_default(connection, "nap", R"({"ms": 60000})", "2");
    REQUIRE_MESSAGE(reaches(connection, nap, "failed", 30s), daemon.log());
    const std::string error = field(connection, "last_error", nap);
    CHECK_MESSAGE(error.find("timed out after 1 s: nap: asked to stop") != std::string::npos,
                  error);
    CHECK(field(connection, "attempts", nap) == "2");
    CHECK(scalar(connection,
                 "SELECT count(*) FROM pgtq.tasks t, jsonb_array_elements(t.errors) e"
                 " WHERE t.id = $1 AND e->>'error' LIKE 'timed out after 1 s: %'",
                 {nap}) == "2");
    CHECK((daemon.log().find("timeouts are cooperative only") != std::string::npos) ==
          (mode == "thread"));
  }
}

TEST_CASE("a timeout given at push comes before the task name's and the daemon's, in both "
          "modes, and in process mode it also ends a handler that ignores should_stop") {
  for (const std::string mode : {"thread", "process"}) {
    CAPTURE(mode);
    TestDatabase database;
    db::Connection connection = database.connect();
    DaemonProcess daemon({.dsn = database.dsn(),
                          .plugin_dirs = {test_plugin_dir("runaway")},
                          .extra_args = {"--isolation",
                                         mode,
                                         "--concurrency",
                                         "2",
                                         "--task-timeout",
                                         "60",
                                         "--timeout-grace",
                                         "0.5"}});
    // nap stops when asked: the push's 1 s, not the daemon's 60 s, asks it.
    const std::string nap = scalar(connection,
                                   "SELECT pgtq.push('default', 'nap', '{\"ms\": 60000}',"
                                   " max_attempts => 1, timeout => '1 second')");
    REQUIRE_MESSAGE(reaches(connection, nap, "failed", 30s), daemon.log());
    const std::string error = field(connection, "last_error", nap);
    CHECK_MESSAGE(error.find("timed out after 1 s: nap: asked to stop") != std::string::npos,
                  error);
    if (mode == "process") {
      // spin registers 2 s for itself and never looks at should_stop: the push's 0.5 s wins,
      // and its worker is killed after the grace.
      const std::string spin = scalar(connection,
                                      "SELECT pgtq.push('default', 'spin', '[]',"
                                      " max_attempts => 1, timeout => '500 milliseconds')");
      REQUIRE_MESSAGE(reaches(connection, spin, "failed", 30s), daemon.log());
      const std::string spun = field(connection, "last_error", spin);
      CHECK_MESSAGE(spun.find("timed out after 0.5 s") != std::string::npos, spun);
    }
  }
}
