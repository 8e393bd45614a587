// Queues of one pgtqd that share their workers (shared-workers, queue-weights): a queue alone
// takes every shared worker, while several have work they split the workers by weight, and no
// more tasks run at once than there are workers.
#include "support/daemon_process.hpp"
#include "support/sql.hpp"
#include "support/task_state.hpp"
#include "support/test_database.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <string>

using namespace pgtq;
using namespace pgtq::test;

namespace {

// The most sleep tasks of the queues matching `queues` (a LIKE pattern) pushed with args
// `args` that ran at once, from their history: the most runs that overlap one run by more
// than 150 ms at each end (runs of 0.6 s).
long long most_at_once(db::Connection& conn, const std::string& queues, const std::string& args) {
  return count(conn,
               "SELECT coalesce(max((SELECT count(*) FROM pgtq.finished_tasks u"
               "  WHERE u.queue LIKE $1 AND u.task = 'sleep' AND u.args = $2::jsonb"
               "    AND u.started_at < t.finished_at - interval '150 ms'"
               "    AND u.finished_at > t.started_at + interval '150 ms')), 0)"
               " FROM pgtq.finished_tasks t"
               " WHERE t.queue LIKE $1 AND t.task = 'sleep' AND t.args = $2::jsonb",
               {queues, args});
}

bool all_done(db::Connection& conn) {
  return count(conn, "SELECT count(*) FROM pgtq.live_tasks") == 0;
}

} // namespace

TEST_CASE("queues that share workers: one alone takes them all, several split them by weight, "
          "and no more run at once than there are workers") {
  TestDatabase database;
  db::Connection conn = database.connect();
  // No worker processes: a task's history starts when its handler does.
  DaemonProcess daemon({.dsn = database.dsn(),
                        .queue = "a, b",
                        .extra_args = {"--shared-workers",
                                       "--queue-weights",
                                       "a=3",
                                       "--concurrency",
                                       "4",
                                       "--isolation",
                                       "thread"}});
  REQUIRE_MESSAGE(
      eventually([&] { return count(conn, "SELECT count(*) FROM pgtq.live_workers") == 2; }, 10s),
      daemon.log());

  // a alone: all four workers.
  query(conn,
        "SELECT pgtq.push_many('a', array_fill('sleep'::text, ARRAY[8]),"
        " array_fill('[0.6]'::jsonb, ARRAY[8]))");
  REQUIRE_MESSAGE(eventually([&] { return all_done(conn); }, 20s), daemon.log());
  CHECK(most_at_once(conn, "a", "[0.6]") == 4);

  // a busy on all four workers with a backlog, then b gets one too: from the next round on a
  // runs 3 at a time (owed 3) and b 1, so b ends 2 or 3 tasks while a has work (an even split
  // would end 8 of b's, and a queue that gave way to nobody none).
  query(conn,
        "SELECT pgtq.push_many('a', array_fill('sleep'::text, ARRAY[12]),"
        " array_fill('[0.61]'::jsonb, ARRAY[12]))");
  REQUIRE_MESSAGE(eventually([&] { return running(conn, "a") == 4; }, 10s), daemon.log());
  query(conn,
        "SELECT pgtq.push_many('b', array_fill('sleep'::text, ARRAY[12]),"
        " array_fill('[0.61]'::jsonb, ARRAY[12]))");
  REQUIRE_MESSAGE(eventually([&] { return all_done(conn); }, 30s), daemon.log());
  const std::string runs =
      scalar(conn,
             "SELECT string_agg(queue || ' ' || to_char(started_at, 'SS.MS') || '-' ||"
             " to_char(finished_at, 'SS.MS'), '; ' ORDER BY started_at)"
             " FROM pgtq.finished_tasks WHERE args = '[0.61]'");
  CHECK_MESSAGE(most_at_once(conn, "_", "[0.61]") <= 4, runs);
  const long long b_while_a =
      count(conn,
            "SELECT count(*) FROM pgtq.finished_tasks WHERE queue = 'b' AND args = '[0.61]'"
            " AND finished_at <= (SELECT max(finished_at) FROM pgtq.finished_tasks"
            "                      WHERE queue = 'a' AND args = '[0.61]')");
  CHECK_MESSAGE(b_while_a >= 1, runs); // b is owed a worker: never starved
  CHECK_MESSAGE(b_while_a <= 5, runs);
  // Once a has no more work, b takes every worker.
  CHECK_MESSAGE(most_at_once(conn, "b", "[0.61]") == 4, runs);
}

TEST_CASE("queues that share workers and have a backlog when pgtqd starts split them by weight "
          "from the first claim") {
  TestDatabase database;
  db::Connection conn = database.connect();
  for (const char* queue : {"b", "a"}) {
    query(conn,
          "SELECT pgtq.push_many($1, array_fill('sleep'::text, ARRAY[6]),"
          " array_fill('[0.6]'::jsonb, ARRAY[6]))",
          {queue});
  }
  DaemonProcess daemon({.dsn = database.dsn(),
                        .queue = "b, a",
                        .extra_args = {"--shared-workers",
                                       "--queue-weights",
                                       "a=3",
                                       "--concurrency",
                                       "4",
                                       "--isolation",
                                       "thread"}});
  REQUIRE_MESSAGE(eventually([&] { return all_done(conn); }, 30s), daemon.log());
  CHECK_MESSAGE(daemon.log().find("queue[a]: 4 shared workers (weight 3), listening as") !=
                    std::string::npos,
                daemon.log());
  // The first round: the first four tasks started. (Not those that started before a task
  // ended: a worker's next task is claimed while its outcome is recorded, so it may start a
  // moment before the history says the last one ended.)
  const auto first_round = [&](const char* queue) {
    return count(conn,
                 "SELECT count(*) FROM (SELECT queue FROM pgtq.finished_tasks"
                 " ORDER BY started_at LIMIT 4) f WHERE queue = $1",
                 {queue});
  };
  const std::string runs =
      scalar(conn,
             "SELECT string_agg(queue || ' ' || to_char(started_at, 'SS.MS') || '-' ||"
             " to_char(finished_at, 'SS.MS'), '; ' ORDER BY started_at)"
             " FROM pgtq.finished_tasks");
  CHECK_MESSAGE(first_round("a") == 3, runs);
  CHECK_MESSAGE(first_round("b") == 1, runs);
}
