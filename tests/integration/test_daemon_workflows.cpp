// Dependencies, follow-ups, progress and checkpoints with the real pgtqd and the example
// plugin workflow.so: a fan-in sees its parents' results, a handler's follow-ups exist only if
// its outcome is recorded, progress reported at any rate costs about one write a second and
// shows while the task runs, and a checkpoint reaches the next attempt after a crash or a retry.
#include "support/daemon_process.hpp"
#include "support/sql.hpp"
#include "support/task_state.hpp"
#include "support/test_database.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <csignal>
#include <string>
#include <thread>
#include <vector>

using namespace pgtq;
using namespace pgtq::test;

namespace {

const std::vector<std::string> k_fast = {
    "--backoff-base", "0.1", "--backoff-cap", "0.2", "--scheduler-interval", "0.1"};

std::vector<std::string> with(std::vector<std::string> args, const std::vector<std::string>& more) {
  args.insert(args.end(), more.begin(), more.end());
  return args;
}

std::string push_after(db::Connection& connection,
                       const std::string& task,
                       const std::string& parents,
                       const std::string& policy = "cancel") {
  return scalar(connection,
                "SELECT pgtq.push('default', $1, depends_on => $2::bigint[],"
                " on_parent_failure => $3)",
                {task, parents, policy});
}

} // namespace

TEST_CASE("pgtqd runs a task with two parents after both succeed and hands it both results, "
          "and follows on_parent_failure when one fails for good") {
  TestDatabase database;
  db::Connection connection = database.connect();
  DaemonProcess daemon({.dsn = database.dsn(), .extra_args = {"--concurrency", "2"}});
  REQUIRE_MESSAGE(daemon.wait_for_log("listening as", 20s), daemon.log());
  const std::string three = push_to_default(connection, "square", R"({"x": 3})");
  const std::string four = push_to_default(connection, "square", R"({"x": 4})");
  const std::string sum = push_after(connection, "sum_parents", "{" + three + "," + four + "}");
  REQUIRE_MESSAGE(reaches(connection, sum, "succeeded"), daemon.log());
  CHECK(field(connection, "result->>'sum'", sum) == "25.000000");
  CHECK(field(connection, "result->>'parents'", sum) == "2");
  CHECK(field(connection,
              "started_at >= (SELECT max(finished_at) FROM pgtq.tasks"
              " WHERE task = 'square')",
              sum) == "true");

  // A parent that fails for good: "x" is no number, a permanent error.
  const std::string bad = push_to_default(connection, "square", R"({"x": "three"})");
  const std::string good = push_to_default(connection, "square", R"({"x": 5})");
  const std::string cancelled = push_after(connection, "sum_parents", "{" + bad + "," + good + "}");
  const std::string anyway =
      push_after(connection, "sum_parents", "{" + bad + "," + good + "}", "run");
  REQUIRE_MESSAGE(reaches(connection, anyway, "succeeded"), daemon.log());
  CHECK(field(connection, "result->>'sum'", anyway) == "25.000000");
  CHECK(field(connection, "result->>'parents'", anyway) == "2");
  CHECK(field(connection, "state", cancelled) == "cancelled");
  CHECK(field(connection, "last_error", cancelled) == "parent task " + bad + " failed");
}

TEST_CASE("a handler's follow-up tasks exist only if its outcome is recorded: none from an "
          "attempt whose worker died after pushing them, each once from the attempt that "
          "succeeds") {
  TestDatabase database;
  db::Connection connection = database.connect();
  DaemonProcess daemon({.dsn = database.dsn(), .extra_args = with({"--concurrency", "2"}, k_fast)});
  REQUIRE_MESSAGE(daemon.wait_for_log("listening as", 20s), daemon.log());
  const std::string fan_out =
      push_to_default(connection, "fan_out", R"({"xs": [1, 2, 3], "crash": true})");
  REQUIRE_MESSAGE(reaches(connection, fan_out, "succeeded"), daemon.log());
  CHECK(field(connection, "attempts", fan_out) == "2");
  CHECK(field(connection, "errors->0->>'error'", fan_out).find("killed by SIGABRT") !=
        std::string::npos);
  // Three, not six: the first attempt's follow-ups died with it.
  REQUIRE(eventually(
      [&] {
        return count(connection,
                     "SELECT count(*) FROM pgtq.tasks WHERE task = 'square'"
                     " AND state = 'succeeded'") == 3;
      },
      20s));
  CHECK(count(connection, "SELECT count(*) FROM pgtq.tasks WHERE task = 'square'") == 3);
  CHECK(scalar(connection,
               "SELECT string_agg(result::text, ',' ORDER BY id) FROM pgtq.tasks"
               " WHERE task = 'square'") == "1.0,4.0,9.0");
}

TEST_CASE("progress reported 10,000 times a second is written about once a second, shows in "
          "pgtq.tasks while the task runs, and is kept when it ends") {
  TestDatabase database;
  db::Connection connection = database.connect();
  // Counts the daemon's calls of pgtq.report (its sessions read the setting at connect).
  query(connection, "SELECT set_config('track_functions', 'pl', false)");
  query(connection,
        "ALTER DATABASE " + scalar(connection, "SELECT current_database()") +
            " SET track_functions = 'pl'");
  DaemonProcess daemon({.dsn = database.dsn()});
  REQUIRE_MESSAGE(daemon.wait_for_log("listening as", 20s), daemon.log());
  // 40,000 steps of 0.1 ms: 10,000 progress reports a second, a checkpoint every 1,000 steps.
  const std::string id = push_to_default(
      connection, "count_to", R"({"n": 40000, "step_ms": 0.1, "checkpoint_every": 1000})");
  REQUIRE(reaches(connection, id, "running"));
  std::vector<long long> seen;
  while (field(connection, "state", id) == "running") {
    const std::string done = field(connection, "progress->>'done'", id);
    if (!done.empty() && (seen.empty() || std::stoll(done) != seen.back())) {
      seen.push_back(std::stoll(done));
    }
    std::this_thread::sleep_for(100ms);
  }
  REQUIRE_MESSAGE(field(connection, "state", id) == "succeeded", daemon.log());
  const double seconds =
      std::stod(field(connection, "extract(epoch FROM finished_at - started_at)", id));
  MESSAGE("ran " << seconds << " s (" << 40000 / seconds << " reports a second); saw "
                 << seen.size() << " progress values while it ran");
  // Seen while it ran, several times, always moving forward, never the total before the end.
  CHECK(seen.size() >= 2);
  CHECK(std::is_sorted(seen.begin(), seen.end()));
  CHECK(seen.front() < 40000);
  CHECK(field(connection, "progress::text", id) == R"({"done": 40000, "total": 40000})");
  // The daemon's statistics reach the server once its session idles.
  long long writes = 0;
  CHECK(eventually(
      [&] {
        query(connection, "SELECT pg_stat_clear_snapshot()");
        writes = count(connection,
                       "SELECT coalesce(sum(calls), 0) FROM pg_stat_user_functions"
                       " WHERE schemaname = 'pgtq' AND funcname = 'report'");
        return writes >= 2;
      },
      10s));
  MESSAGE(writes << " writes of reports in " << seconds << " s");
  CHECK(writes <= static_cast<long long>(seconds) + 2);
}

TEST_CASE("a checkpoint saved in attempt 1 reaches attempt 2, after its worker process crashed "
          "and, in thread mode, after a retry") {
  TestDatabase database;
  db::Connection connection = database.connect();
  for (const char* isolation : {"process", "thread"}) {
    CAPTURE(isolation);
    DaemonProcess daemon(
        {.dsn = database.dsn(), .extra_args = with({"--isolation", isolation}, k_fast)});
    REQUIRE_MESSAGE(daemon.wait_for_log("listening as", 20s), daemon.log());
    const std::string how = std::string(isolation) == "process" ? "abort" : "retry";
    const std::string id = push_to_default(
        connection,
        "count_to",
        R"({"n": 10, "checkpoint_every": 3, "crash_at": 7, "how": ")" + how + R"("})");
    REQUIRE_MESSAGE(reaches(connection, id, "succeeded"), daemon.log());
    CHECK(field(connection, "attempts", id) == "2");
    // Saved at 6, stopped at 7: the second attempt counts from 6.
    CHECK(field(connection, "result::text", id) == R"({"counted": 10, "resumed_from": 6})");
    CHECK(field(connection, "checkpoint", id).empty()); // not kept once the task ended
  }
}

// With isolation = thread the task is given back at the end of the grace without waiting for
// the handler (README "Progress and checkpoints"), so only worker processes keep a checkpoint
// saved after the stop.
TEST_CASE("a checkpoint saved when the handler is asked to stop at the end of the shutdown "
          "grace reaches the next attempt") {
  TestDatabase database;
  db::Connection connection = database.connect();
  for (const char* isolation : {"process"}) {
    // A checkpoint only when asked to stop, moments before the task is given back.
    const std::string id = push_to_default(
        connection, "count_to", R"({"n": 100000, "step_ms": 20, "checkpoint_every": 1000000})");
    {
      DaemonProcess daemon(
          {.dsn = database.dsn(),
           .extra_args = with({"--isolation", isolation, "--shutdown-grace", "0.5"}, k_fast)});
      REQUIRE_MESSAGE(daemon.wait_for_log("listening as", 20s), daemon.log());
      REQUIRE(eventually(
          [&] {
            const std::string done = field(connection, "progress->>'done'", id);
            return !done.empty() && std::stoll(done) >= 10;
          },
          20s));
      // At the end of the shutdown grace the handler sees should_stop at its next step and asks
      // for a retry: the task is given back, and its last checkpoint, saved less than a second
      // ago, goes with it.
      daemon.signal(SIGTERM);
      REQUIRE(daemon.wait_exit(20s).has_value());
    }
    REQUIRE(field(connection, "state", id) == "queued");
    REQUIRE_FALSE(field(connection, "checkpoint", id).empty());
    const long long saved = std::stoll(field(connection, "checkpoint->>'done'", id));
    CHECK(saved >= 10);
    // The next pgtqd resumes from it.
    query(connection,
          "SELECT pgtq.update($1::bigint, args => '{\"n\": " + std::to_string(saved + 3) +
              ", \"step_ms\": 1}')",
          {id});
    DaemonProcess daemon(
        {.dsn = database.dsn(), .extra_args = with({"--isolation", isolation}, k_fast)});
    REQUIRE_MESSAGE(reaches(connection, id, "succeeded"), daemon.log());
    CHECK(field(connection, "result->>'resumed_from'", id) == std::to_string(saved));
  }
}
