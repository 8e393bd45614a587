// A queue's defaults for new tasks (pgtq.set_task_defaults): what a push that gives no
// priority, max_attempts or timeout of its own stores, in every way there is to push.
#include "pgtq/client.hpp"
#include "support/ctl_process.hpp"
#include "support/sql.hpp"
#include "support/task_state.hpp"
#include "support/test_database.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

using namespace pgtq;
using namespace pgtq::test;
using namespace std::chrono_literals;

namespace {

// priority/max_attempts/timeout of a task, e.g. "-5/3/00:01:30" ("<null>" for no timeout).
std::string settings_of(db::Connection& conn, std::int64_t id) {
  return field(conn, id, "priority") + "/" + field(conn, id, "max_attempts") + "/" +
         field(conn, id, "timeout");
}

} // namespace

TEST_CASE("a queue's task defaults apply to every push that gives none, and a push's own values "
          "win") {
  TestDatabase database;
  db::Connection conn = database.connect();
  PGconn* pg = conn.native();
  const std::int64_t before = push(pg, "q", "t");
  set_task_defaults(pg, "q", {.priority = -5, .max_attempts = 3, .timeout = 90s});

  const std::int64_t sql = std::stoll(scalar(conn, "SELECT pgtq.push('q', 't')"));
  CHECK(settings_of(conn, sql) == "-5/3/00:01:30");
  const std::int64_t own =
      std::stoll(scalar(conn, "SELECT pgtq.push('q', 't', priority => 7, timeout => '1 hour')"));
  CHECK(settings_of(conn, own) == "7/3/01:00:00");
  CHECK(settings_of(conn, push(pg, "q", "t")) == "-5/3/00:01:30");
  PreparedPusher pusher(pg);
  CHECK(settings_of(conn, pusher.push("q", "t", args(1), {.max_attempts = 9})) == "-5/9/00:01:30");
  const std::vector<std::int64_t> many =
      push_many(pg, "q", {{"t", args(1)}, {"t", args(2), {.priority = 1}}});
  CHECK(settings_of(conn, many[0]) == "-5/3/00:01:30");
  CHECK(settings_of(conn, many[1]) == "1/3/00:01:30");
  const std::int64_t json = std::stoll(scalar(
      conn,
      "SELECT min(id) FROM pgtq.push_many('q', '[{\"task\": \"t\", \"priority\": null}]') id"));
  CHECK(settings_of(conn, json) == "-5/3/00:01:30");
  const std::int64_t unique = push(pg, "q", "t", args(), {.unique = Unique{.key = "u"}});
  CHECK(settings_of(conn, unique) == "-5/3/00:01:30");
  const std::vector<std::int64_t> unique_many =
      push_many(pg, "q", {{"t", args(), {.unique = Unique{.key = "v"}}}});
  CHECK(settings_of(conn, unique_many[0]) == "-5/3/00:01:30");
  const Run ctl = pgtqctl(database.dsn(), {"push", "q", "t"});
  REQUIRE_MESSAGE(ctl.exit_code == 0, ctl.output);
  CHECK(settings_of(conn, std::stoll(ctl.output)) == "-5/3/00:01:30");

  // Other queues, and tasks pushed before, keep the built-in defaults.
  CHECK(settings_of(conn, push(pg, "other", "t")) == "0/5/<null>");
  CHECK(settings_of(conn, before) == "0/5/<null>");

  // Removed: new pushes get the built-in defaults; tasks pushed meanwhile keep theirs.
  set_task_defaults(pg, "q", {});
  CHECK(settings_of(conn, push(pg, "q", "t")) == "0/5/<null>");
  CHECK(settings_of(conn, sql) == "-5/3/00:01:30");
  set_task_defaults(pg, "q", {.max_attempts = 1});
  CHECK(reset_queue(pg, "q"));
  CHECK(settings_of(conn, push(pg, "q", "t")) == "0/5/<null>");

  CHECK_THROWS_AS(set_task_defaults(pg, "q", {.timeout = 0s}), Error);
  CHECK_THROWS_AS(set_task_defaults(pg, "q", {.priority = 40000}), Error);
}

TEST_CASE("pgtqctl queue shows and changes a queue's task defaults one at a time") {
  TestDatabase database;
  db::Connection conn = database.connect();
  const Run set = pgtqctl(database.dsn(), {"queue", "q", "--default-priority", "-3"});
  REQUIRE_MESSAGE(set.exit_code == 0, set.output);
  CHECK_MESSAGE(
      set.output.find("new tasks: priority -3, max attempts 5, no timeout of their own") !=
          std::string::npos,
      set.output);
  // One option changes one default; the others stay.
  const Run timeout = pgtqctl(database.dsn(), {"queue", "q", "--default-timeout", "5 minutes"});
  CHECK_MESSAGE(timeout.output.find("new tasks: priority -3, max attempts 5, timeout 00:05:00") !=
                    std::string::npos,
                timeout.output);
  CHECK(pgtqctl(database.dsn(), {"queue", "q", "--default-max-attempts", "2"}).exit_code == 0);
  CHECK(scalar(conn, "SELECT pgtq.push('q', 't')") != "");
  CHECK(count(conn,
              "SELECT count(*) FROM pgtq.tasks WHERE priority = -3 AND max_attempts = 2"
              " AND timeout = '5 minutes'") == 1);
  const Run none = pgtqctl(database.dsn(), {"queue", "q", "--default-priority", "none"});
  CHECK_MESSAGE(none.output.find("new tasks: priority 0, max attempts 2, timeout 00:05:00") !=
                    std::string::npos,
                none.output);

  const Run bad = pgtqctl(database.dsn(), {"queue", "q", "--default-max-attempts", "0"});
  CHECK(bad.exit_code == 64);
  CHECK_MESSAGE(bad.output.find("--default-max-attempts") != std::string::npos, bad.output);
  const Run bad_timeout = pgtqctl(database.dsn(), {"queue", "q", "--default-timeout", "2 years"});
  CHECK(bad_timeout.exit_code == 1);
  CHECK_MESSAGE(bad_timeout.output.find("timeout") != std::string::npos, bad_timeout.output);
  CHECK(scalar(conn, "SELECT default_timeout FROM pgtq.queues WHERE queue = 'q'") == "00:05:00");

  // All or nothing: a value the database refuses leaves every setting as it was.
  const Run half = pgtqctl(database.dsn(),
                           {"queue",
                            "other",
                            "--key-concurrency",
                            "4",
                            "--global-concurrency",
                            "7",
                            "--default-timeout",
                            "2 months"});
  CHECK(half.exit_code == 1);
  CHECK(count(conn, "SELECT count(*) FROM pgtq.queues WHERE queue = 'other'") == 0);
}

TEST_CASE("pgtqctl queue --default-timeout keeps a priority default committed while it waited") {
  TestDatabase database;
  db::Connection conn = database.connect();
  db::Connection other = database.connect();
  set_task_defaults(conn.native(), "q", {.priority = 1});
  // Another session changes the priority and holds the row until it commits.
  other.run_script("BEGIN");
  other.run_script("SELECT pgtq.set_task_defaults('q', 99, NULL, NULL)");
  Run run;
  std::thread ctl([&] {
    run = pgtqctl(database.dsn(), {"queue", "q", "--default-timeout", "1 minute"});
  });
  std::this_thread::sleep_for(500ms);
  other.run_script("COMMIT");
  ctl.join();
  REQUIRE_MESSAGE(run.exit_code == 0, run.output);
  CHECK(scalar(conn, "SELECT default_priority || ' ' || default_timeout FROM pgtq.queues") ==
        "99 00:01:00");
}
