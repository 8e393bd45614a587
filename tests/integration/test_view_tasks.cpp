// pgtq.tasks shows live and finished tasks with the documented columns.
#include "pgtq/client.hpp"
#include "support/test_database.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using namespace pgtq;

TEST_CASE("pgtq.tasks has the documented columns in order") {
  test::TestDatabase database;
  db::Connection conn = database.connect();
  const db::Result result = conn.run_script("SELECT * FROM pgtq.tasks LIMIT 0");
  const std::vector<std::string> expected{
      "id",         "queue",        "task",         "args",       "state",      "priority",
      "run_at",     "attempts",     "max_attempts", "created_at", "started_at", "finished_at",
      "locked_by",  "locked_until", "result",       "last_error", "errors",     "timeout",
      "unique_key", "fairness_key", "tags",         "metadata",   "depends_on", "on_parent_failure",
      "progress",   "checkpoint"};
  REQUIRE(result.columns() == static_cast<int>(expected.size()));
  for (int i = 0; i < result.columns(); ++i) {
    CHECK(std::string(PQfname(result.get(), i)) == expected[static_cast<std::size_t>(i)]);
  }
}

TEST_CASE("pgtq.tasks shows a pushed task, then the same task finished") {
  test::TestDatabase database;
  db::Connection conn = database.connect();
  const std::int64_t id = push(conn.native(), "view_q", "add_numbers", 2, 3);
  const std::string where = " FROM pgtq.tasks WHERE id = " + std::to_string(id);

  const db::Result live = conn.run_script(
      "SELECT queue, task, args::text, state::text, priority, attempts, max_attempts, "
      "run_at <= now(), created_at IS NOT NULL, started_at IS NULL, finished_at IS NULL, "
      "locked_by IS NULL, locked_until IS NULL, result IS NULL, last_error IS NULL, errors::text" +
      where);
  REQUIRE(live.rows() == 1);
  const std::vector<std::string> expected_live{"view_q",
                                               "add_numbers",
                                               "[2, 3]",
                                               "queued",
                                               "0",
                                               "0",
                                               "5",
                                               "t",
                                               "t",
                                               "t",
                                               "t",
                                               "t",
                                               "t",
                                               "t",
                                               "t",
                                               "[]"};
  for (int i = 0; i < live.columns(); ++i) {
    CAPTURE(i);
    CHECK(live.string(0, i) == expected_live[static_cast<std::size_t>(i)]);
  }

  const std::vector<ClaimedTask> claimed =
      pop(conn.native(), "view_q", {"add_numbers"}, 1, "viewer");
  REQUIRE(claimed.size() == 1);
  const db::Result running = conn.run_script(
      "SELECT state::text, attempts, locked_by, locked_until > now(), started_at IS NOT NULL" +
      where);
  CHECK(running.string(0, 0) == "running");
  CHECK(running.string(0, 1) == "1");
  CHECK(running.string(0, 2) == "viewer");
  CHECK(running.string(0, 3) == "t");
  CHECK(running.string(0, 4) == "t");

  REQUIRE(complete(conn.native(), claimed[0], to_json(5)));
  const db::Result done = conn.run_script(
      "SELECT state::text, result::text, finished_at IS NOT NULL, locked_until IS NULL, locked_by, "
      "(SELECT count(*) FROM pgtq.live_tasks), (SELECT count(*) FROM pgtq.finished_tasks)" +
      where);
  REQUIRE(done.rows() == 1);
  CHECK(done.string(0, 0) == "succeeded");
  CHECK(done.string(0, 1) == "5");
  CHECK(done.string(0, 2) == "t");
  CHECK(done.string(0, 3) == "t");
  CHECK(done.string(0, 4) == "viewer");
  CHECK(done.string(0, 5) == "0");
  CHECK(done.string(0, 6) == "1");
}
