// PreparedPusher: the same pushes as pgtq::push, through statements prepared once per
// connection, inside the caller's transaction.
#include "pgtq/client.hpp"
#include "support/sql.hpp"
#include "support/task_state.hpp"
#include "support/test_database.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <cstdint>
#include <string>

using namespace pgtq;
using namespace std::chrono_literals;
using pgtq::test::field;

TEST_CASE("PreparedPusher pushes what push does, options included, preparing once per shape") {
  test::TestDatabase database;
  db::Connection conn = database.connect();
  PreparedPusher pusher(conn.native());

  const std::int64_t plain = pusher.push("emails", "send_welcome", json(R"({"user_id":42})"));
  const std::int64_t typed = pusher.push("math", "add_numbers", args(2, 3));
  const std::int64_t later =
      pusher.push("math", "add_numbers", args(1, 1), {.delay = 1h, .priority = -3});
  const std::int64_t retried = pusher.push("math", "add_numbers", {.max_attempts = 2});
  CHECK(field(conn, plain, "args") == R"({"user_id": 42})");
  CHECK(field(conn, plain, "state") == "queued");
  CHECK(field(conn, plain, "max_attempts") == "5"); // the server's default
  CHECK(field(conn, typed, "args") == "[2, 3]");
  CHECK(field(conn, later, "state") == "scheduled");
  CHECK(field(conn, later, "priority") == "-3");
  CHECK(field(conn, later, "run_at > now() + interval '59 minutes'") == "true");
  CHECK(field(conn, retried, "max_attempts") == "2");

  // Three shapes of call, three statements; more pushes of a known shape prepare nothing.
  for (int i = 0; i < 10; ++i) {
    pusher.push("emails", "send_welcome", args(i));
  }
  CHECK(test::count(conn,
                    "SELECT count(*) FROM pg_prepared_statements "
                    "WHERE name LIKE 'pgtq_push_v1_%'") == 3);
}

TEST_CASE("PreparedPusher joins the caller's transaction, and pushers come and go freely") {
  test::TestDatabase database;
  db::Connection conn = database.connect();

  // A first pusher prepares inside a transaction that then rolls back: the task is gone,
  // the statement stays, and a new pusher on the same connection finds and reuses it
  // (preparing it again would fail and abort the caller's transaction).
  conn.run_script("BEGIN");
  PreparedPusher(conn.native()).push("q", "rolled_back");
  conn.run_script("ROLLBACK");
  CHECK(test::count(conn, "SELECT count(*) FROM pgtq.tasks") == 0);

  conn.run_script("BEGIN");
  const std::int64_t kept = PreparedPusher(conn.native()).push("q", "committed");
  const std::int64_t also = PreparedPusher(conn.native()).push("q", "committed", json("[1]"));
  conn.run_script("COMMIT");
  CHECK(field(conn, kept, "state") == "queued");
  CHECK(field(conn, also, "state") == "queued");
  CHECK(test::count(conn, "SELECT count(*) FROM pgtq.tasks") == 2);
  CHECK(test::count(conn, "SELECT count(*) FROM pg_prepared_statements") == 1);
}

TEST_CASE("PreparedPusher reports the server's errors and leaves nothing behind") {
  test::TestDatabase database;
  db::Connection conn = database.connect();
  PreparedPusher pusher(conn.native());

  CHECK_THROWS_WITH_AS(pusher.push("q", "bad name"),
                       doctest::Contains("task name \"bad name\" has characters outside"),
                       Error);
  CHECK_THROWS_WITH_AS(pusher.push("q", "t", json("42")), doctest::Contains("not number"), Error);
  try {
    pusher.push("q", "t", {.priority = 99999});
    FAIL("accepted");
  } catch (const Error& error) {
    CHECK(error.sqlstate() == "22023");
  }
  CHECK(test::count(conn, "SELECT count(*) FROM pgtq.tasks") == 0);
  CHECK_THROWS_AS(PreparedPusher(nullptr).push("q", "t"), Error);

  // A statement of the same name with other SQL is not silently used.
  conn.run_script("PREPARE pgtq_push_v1_8 AS SELECT 1");
  CHECK_THROWS_WITH_AS(PreparedPusher(conn.native()).push("q", "t", {.max_attempts = 1}),
                       doctest::Contains("exists on this connection with other SQL"),
                       Error);
}
