// Every pgtq function runs with its own search_path: a caller's schema placed before
// pg_catalog, with its own now(), clock_timestamp() and jsonb_typeof, changes nothing.
#include "pgtq/client.hpp"
#include "support/sql.hpp"
#include "support/task_state.hpp"
#include "support/test_database.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using namespace pgtq;
using namespace std::chrono_literals;
using pgtq::test::field;
using pgtq::test::query;

TEST_CASE("a caller's now(), clock_timestamp() and jsonb_typeof are not pgtq's") {
  test::TestDatabase database;
  db::Connection conn = database.connect();
  PGconn* pg = conn.native();
  query(conn, "CREATE SCHEMA mine");
  query(conn,
        "CREATE FUNCTION mine.now() RETURNS timestamptz LANGUAGE sql "
        "AS $$ SELECT '3000-01-01'::timestamptz $$");
  query(conn,
        "CREATE FUNCTION mine.clock_timestamp() RETURNS timestamptz LANGUAGE sql "
        "AS $$ SELECT '3000-01-01'::timestamptz $$");
  query(conn,
        "CREATE FUNCTION mine.jsonb_typeof(jsonb) RETURNS text LANGUAGE sql "
        "AS $$ SELECT 'array'::text $$");
  query(conn, "SET search_path = mine, pg_catalog, public");

  // A time far ahead would make the delayed task due, and every value look like an array.
  const std::int64_t later = push(pg, "q", "t", json("[1]"), {.delay = 1h});
  CHECK(field(conn, later, "state") == "scheduled");
  CHECK(field(conn,
              later,
              "run_at BETWEEN pg_catalog.now() + interval '59 minutes' "
              "AND pg_catalog.now() + interval '61 minutes'") == "true");
  CHECK_THROWS_WITH(push(pg, "q", "t", json("5")),
                    doctest::Contains("must be a JSON array or object"));
  CHECK_THROWS_WITH(conn.run_script("SELECT pgtq.push_many('q', '5')"),
                    doctest::Contains("tasks must be a JSON array"));

  const db::Result tick =
      conn.run_script("SELECT promoted, next_due > pg_catalog.now() FROM pgtq.tick()");
  CHECK(tick.string(0, 0) == "0");
  CHECK(tick.string(0, 1) == "t");
  CHECK(field(conn, later, "state") == "scheduled");

  const std::int64_t now = push(pg, "q", "t", json("[2]"));
  const std::vector<ClaimedTask> claimed = pop(pg, "q", {"t"}, 10, "w", 30s);
  REQUIRE(claimed.size() == 1);
  CHECK(claimed[0].id == now);
  CHECK(field(conn, now, "locked_until < pg_catalog.now() + interval '1 minute'") == "true");
  CHECK(complete(pg, claimed[0], "1"));
  CHECK(field(conn, now, "finished_at < pg_catalog.now() + interval '1 minute'") == "true");
}

// The kind, not the instances above: every function of schema pgtq pins its search_path,
// except the SQL functions PostgreSQL must inline (a SET clause prevents inlining), which
// schema-qualify every name or have a RETURN body bound when created
// (sql/schema/02_names_and_limits.sql).
TEST_CASE("every pgtq function pins its search_path, except the two it must inline") {
  test::TestDatabase database;
  db::Connection conn = database.connect();
  const db::Result unpinned = query(conn,
                                    "SELECT p.proname FROM pg_proc p"
                                    " WHERE p.pronamespace = 'pgtq'::regnamespace"
                                    "   AND NOT coalesce('search_path=pg_catalog, pg_temp'"
                                    "                    = ANY (p.proconfig), false)"
                                    " ORDER BY 1");
  std::vector<std::string> names;
  for (int row = 0; row < unpinned.rows(); ++row) {
    names.push_back(unpinned.string(row, 0));
  }
  CHECK(names == std::vector<std::string>{"finished_row", "new_claim_token"});
  CHECK(test::count(conn,
                    "SELECT count(*) FROM pg_proc WHERE pronamespace = 'pgtq'::regnamespace") > 20);
}
