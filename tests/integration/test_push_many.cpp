// Bulk pushes: one round trip, ids in the order of the tasks given.
#include "pgtq/client.hpp"
#include "support/test_database.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

using namespace pgtq;
using namespace std::chrono_literals;

TEST_CASE("push_many of 1000 tasks returns 1000 ids in order") {
  test::TestDatabase database;
  db::Connection conn = database.connect();

  std::vector<TaskSpec> tasks;
  for (int i = 0; i < 1000; ++i) {
    tasks.push_back({"number", args(i)});
  }
  const std::vector<std::int64_t> ids = push_many(conn.native(), "bulk", tasks);
  REQUIRE(ids.size() == 1000);
  for (std::size_t i = 1; i < ids.size(); ++i) {
    CHECK(ids[i] > ids[i - 1]);
  }
  // Each id belongs to the task at its position.
  const db::Result mismatched = conn.run_script(
      "SELECT count(*) FROM pgtq.tasks t JOIN unnest('" + detail::pg_integer_array(ids) +
      "'::bigint[]) WITH ORDINALITY AS x(id, ord) ON x.id = t.id WHERE t.args->>0 <> (x.ord - "
      "1)::text");
  CHECK(mismatched.int64(0, 0) == 0);
  CHECK(conn.run_script("SELECT count(*) FROM pgtq.tasks WHERE queue = 'bulk' AND state = 'queued'")
            .int64(0, 0) == 1000);
}

TEST_CASE("push_many takes per-task options") {
  test::TestDatabase database;
  db::Connection conn = database.connect();

  const std::vector<std::int64_t> ids =
      push_many(conn.native(),
                "mixed",
                {{"plain"},
                 {"echo", json(R"({"text":"hi \"there\""})"), {.priority = 7, .max_attempts = 2}},
                 {"later", args(), {.delay = 1h}},
                 {"at", args(), {.run_at = "2100-01-01 00:00:00+00", .delay = 30s}},
                 {"named.v2:x-y_z", args("a", 1)}});
  REQUIRE(ids.size() == 5);
  const db::Result rows =
      conn.run_script("SELECT task, args::text, state::text, priority, max_attempts, "
                      "run_at = '2100-01-01 00:00:30+00', run_at > now() + interval '59 minutes' "
                      "FROM pgtq.tasks ORDER BY id");
  REQUIRE(rows.rows() == 5);
  CHECK(rows.string(0, 1) == "[]");
  CHECK(rows.string(0, 2) == "queued");
  CHECK(rows.string(0, 3) == "0");
  CHECK(rows.string(0, 4) == "5");
  CHECK(rows.string(1, 1) == R"({"text": "hi \"there\""})");
  CHECK(rows.string(1, 3) == "7");
  CHECK(rows.string(1, 4) == "2");
  CHECK(rows.string(2, 2) == "scheduled");
  CHECK(rows.string(2, 6) == "t");
  CHECK(rows.string(3, 5) == "t");
  CHECK(rows.string(4, 0) == "named.v2:x-y_z");
  CHECK(rows.string(4, 1) == R"(["a", 1])");
}

TEST_CASE("push_many of nothing is no statement at all") {
  test::TestDatabase database;
  db::Connection conn = database.connect();
  CHECK(push_many(conn.native(), "q", {}).empty());
}
