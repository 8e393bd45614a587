// One pgtqd serving several queues (--queue a --queue b=N): each queue has its own workers
// and claim loop, so a busy queue does not hold back another, a paused one does not stop
// the rest, each has its own row in the worker registry, and a stop drains them all.
#include "support/daemon_process.hpp"
#include "support/sql.hpp"
#include "support/task_state.hpp"
#include "support/test_database.hpp"

#include <doctest/doctest.h>

#include <sys/wait.h>

#include <chrono>
#include <csignal>
#include <string>
#include <thread>

using namespace pgtq;
using namespace pgtq::test;

namespace {

// The most tasks of queue that ran at once, from their history: the most runs that
// overlap one run by more than 250 ms at each end (runs of the sleep task, 0.5 s or longer).
long long most_at_once(db::Connection& conn, const std::string& queue) {
  return count(conn,
               "SELECT coalesce(max((SELECT count(*) FROM pgtq.finished_tasks u"
               "  WHERE u.queue = t.queue AND u.task = 'sleep'"
               "    AND u.started_at < t.finished_at - interval '250 ms'"
               "    AND u.finished_at > t.started_at + interval '250 ms')), 0)"
               " FROM pgtq.finished_tasks t WHERE t.queue = $1 AND t.task = 'sleep'",
               {queue});
}

} // namespace

TEST_CASE("one pgtqd serves several queues, each with its own workers, and a busy queue does "
          "not hold back another") {
  TestDatabase database;
  db::Connection conn = database.connect();
  DaemonProcess daemon(
      {.dsn = database.dsn(),
       .queue = "mail",
       // No prefetch and no worker processes: a task's history starts when its handler
       // does (a worker process may still be starting when its first task is claimed).
       .extra_args = {"--queue",
                      "reports=1",
                      "--concurrency",
                      "2",
                      "--prefetch",
                      "0",
                      "--isolation",
                      "thread"}});
  REQUIRE_MESSAGE(daemon.wait_for_log("queues mail, reports", 10s), daemon.log());
  REQUIRE_MESSAGE(
      eventually([&] { return count(conn, "SELECT count(*) FROM pgtq.live_workers") == 2; }, 10s),
      daemon.log());
  CHECK(scalar(conn,
               "SELECT string_agg(queue || '=' || concurrency, ',' ORDER BY queue) FROM "
               "pgtq.live_workers") == "mail=2,reports=1");
  // Each queue's lines name it; the scheduler's session names the first queue and one more.
  CHECK_MESSAGE(daemon.wait_for_log("queue[mail]: 2 workers, listening as", 5s), daemon.log());
  CHECK_MESSAGE(daemon.wait_for_log("queue[reports]: 1 worker, listening as", 5s), daemon.log());
  CHECK(count(conn,
              "SELECT count(*) FROM pg_stat_activity WHERE application_name LIKE "
              "'pgtqd:mail+1:schedule:%'") == 1);

  // mail's two workers busy for 2 s with a backlog behind them; a task of reports runs at
  // once all the same: it ends before either of mail's running tasks does.
  for (int i = 0; i < 4; ++i) {
    query(conn, "SELECT pgtq.push('mail', 'sleep', '[2]')");
  }
  REQUIRE_MESSAGE(eventually([&] { return running(conn, "mail") == 2; }, 10s), daemon.log());
  const std::string report = scalar(conn, "SELECT pgtq.push('reports', 'add_numbers', '[1, 2]')");
  REQUIRE_MESSAGE(reaches(conn, report, "succeeded", 10s), daemon.log());
  CHECK(count(conn,
              "SELECT count(*) FROM pgtq.finished_tasks WHERE queue = 'mail' AND finished_at < "
              "(SELECT finished_at FROM pgtq.finished_tasks WHERE id = $1)",
              {report}) == 0);

  // reports has one worker of its own: its tasks ran one at a time, mail's two at a time.
  // (Counted from the history: the running rows of a queue can briefly show one more, a
  // task whose outcome is being recorded beside its successor's claim.)
  for (int i = 0; i < 3; ++i) {
    query(conn, "SELECT pgtq.push('reports', 'sleep', '[0.5]')");
  }
  REQUIRE_MESSAGE(
      eventually([&] { return count(conn, "SELECT count(*) FROM pgtq.live_tasks") == 0; }, 15s),
      daemon.log());
  const std::string runs =
      scalar(conn,
             "SELECT string_agg(queue || ' ' || to_char(started_at, 'SS.MS') || "
             "'-' || to_char(finished_at, 'SS.MS'), '; ' ORDER BY queue, "
             "started_at) FROM pgtq.finished_tasks WHERE task = 'sleep'");
  CHECK_MESSAGE(most_at_once(conn, "reports") == 1, runs);
  CHECK_MESSAGE(most_at_once(conn, "mail") == 2, runs);
}

TEST_CASE("pausing one of a pgtqd's queues leaves the others running, and a stop drains all "
          "of them") {
  TestDatabase database;
  db::Connection conn = database.connect();
  DaemonProcess daemon({.dsn = database.dsn(),
                        .queue = "a, b",
                        .extra_args = {"--queue", "c", "--log-level", "debug"}});
  REQUIRE_MESSAGE(
      eventually([&] { return count(conn, "SELECT count(*) FROM pgtq.live_workers") == 3; }, 10s),
      daemon.log());
  CHECK(scalar(conn, "SELECT pgtq.pause('b')") == "t");
  const std::string in_a = scalar(conn, "SELECT pgtq.push('a', 'add_numbers', '[1, 2]')");
  const std::string in_b = scalar(conn, "SELECT pgtq.push('b', 'add_numbers', '[1, 2]')");
  const std::string in_c = scalar(conn, "SELECT pgtq.push('c', 'add_numbers', '[1, 2]')");
  CHECK_MESSAGE(reaches(conn, in_a, "succeeded", 5s), daemon.log());
  CHECK_MESSAGE(reaches(conn, in_c, "succeeded", 5s), daemon.log());
  std::this_thread::sleep_for(500ms);
  CHECK(field(conn, "state", in_b) == "queued");
  CHECK(scalar(conn, "SELECT pgtq.resume('b')") == "t");
  CHECK_MESSAGE(reaches(conn, in_b, "succeeded", 5s), daemon.log());

  // A task running in each of two queues at the stop: both finish, then pgtqd exits.
  const std::string slow_a = scalar(conn, "SELECT pgtq.push('a', 'sleep', '[1]')");
  const std::string slow_c = scalar(conn, "SELECT pgtq.push('c', 'sleep', '[1]')");
  // Started by a worker, not only claimed: a stop gives back claimed tasks no worker took up.
  REQUIRE_MESSAGE(daemon.wait_for_log("task " + slow_a + " (sleep) attempt 1/5 started", 10s),
                  daemon.log());
  REQUIRE_MESSAGE(daemon.wait_for_log("task " + slow_c + " (sleep) attempt 1/5 started", 10s),
                  daemon.log());
  daemon.signal(SIGTERM);
  const auto status = daemon.wait_exit(15s);
  REQUIRE_MESSAGE(status.has_value(), daemon.log());
  CHECK(WIFEXITED(*status));
  CHECK(WEXITSTATUS(*status) == 0);
  CHECK(field(conn, "state", slow_a) == "succeeded");
  CHECK(field(conn, "state", slow_c) == "succeeded");
  CHECK(count(conn, "SELECT count(*) FROM pgtq.live_workers") == 0);
}
