// A timeout given at push: stored with the task, handed out by claim and pop, kept in the
// history; refused, naming it and storing nothing, unless more than 0 and at most 365 days.
// How pgtqd enforces it: test_daemon_isolation.cpp.
#include "db/pg_error.hpp"
#include "pgtq/client.hpp"
#include "support/sql.hpp"
#include "support/task_state.hpp"
#include "support/test_database.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

using namespace pgtq;
using namespace std::chrono_literals;
using pgtq::test::field;
using pgtq::test::scalar;

namespace {

std::int64_t task_count(db::Connection& conn) {
  return conn.run_script("SELECT count(*) FROM pgtq.tasks").int64(0, 0);
}

} // namespace

TEST_CASE("a timeout given at push is stored, claimed with the task and kept in its history") {
  test::TestDatabase database;
  db::Connection conn = database.connect();
  PGconn* pg = conn.native();

  const std::int64_t client = push(pg, "q", "slow", args(1), {.timeout = 90s});
  const std::int64_t precise = push(pg, "q", "slow", args(2), {.timeout = 1500ms});
  const std::int64_t none = push(pg, "q", "slow", args(3));
  const std::int64_t sql =
      test::count(conn, "SELECT pgtq.push('q', 'slow', '[4]', timeout => interval '2 hours')");
  CHECK(field(conn, client, "timeout") == "00:01:30");
  CHECK(field(conn, precise, "timeout") == "00:00:01.5");
  CHECK(field(conn, none, "timeout") == "<null>");
  CHECK(field(conn, sql, "timeout") == "02:00:00");

  const std::vector<std::int64_t> many =
      push_many(pg, "q", {{"slow", args(5), {.timeout = 3s}}, {"slow", args(6)}});
  REQUIRE(many.size() == 2);
  CHECK(field(conn, many[0], "timeout") == "00:00:03");
  CHECK(field(conn, many[1], "timeout") == "<null>");
  const std::int64_t from_json = test::count(
      conn,
      R"(SELECT pgtq.push_many('q', '[{"task": "slow", "args": [7], "timeout": "45 seconds"}]'))");
  CHECK(field(conn, from_json, "timeout") == "00:00:45");

  // pop hands each task out with its timeout, in claim order (id order here).
  const std::vector<ClaimedTask> claimed = pop(pg, "q", {"slow"}, 10, "worker-1");
  REQUIRE(claimed.size() == 7);
  CHECK(claimed[0].timeout == std::chrono::microseconds(90s));
  CHECK(claimed[1].timeout == std::chrono::microseconds(1500ms));
  CHECK_FALSE(claimed[2].timeout.has_value());
  CHECK(claimed[3].timeout == std::chrono::microseconds(2h));
  CHECK(claimed[4].timeout == std::chrono::microseconds(3s));
  CHECK_FALSE(claimed[5].timeout.has_value());
  CHECK(claimed[6].timeout == std::chrono::microseconds(45s));

  // The history keeps it, whichever way the task ended.
  REQUIRE(complete(pg, claimed[0]));
  REQUIRE(fail(pg, claimed[1], "no", std::nullopt, true));
  CHECK(field(conn, client, "state") == "succeeded");
  CHECK(field(conn, client, "timeout") == "00:01:30");
  CHECK(field(conn, precise, "state") == "failed");
  CHECK(field(conn, precise, "timeout") == "00:00:01.5");
  CHECK(scalar(conn,
               "SELECT timeout::text FROM pgtq.finished_tasks WHERE id = $1::bigint",
               {std::to_string(client)}) == "00:01:30");
}

TEST_CASE("a timeout of 0 or less, over 365 days or in months is refused naming it, and nothing is "
          "stored") {
  test::TestDatabase database;
  db::Connection conn = database.connect();
  PGconn* pg = conn.native();

  SUBCASE("pgtq.push") {
    for (const char* bad : {"0", "-1 second", "366 days", "1 month", "1 year"}) {
      CAPTURE(bad);
      try {
        conn.run_script(std::string("SELECT pgtq.push('q', 't', timeout => '") + bad + "')");
        FAIL("accepted");
      } catch (const db::PgError& error) {
        CHECK(error.sqlstate() == "22023");
        CHECK_MESSAGE(std::string(error.what())
                              .find("pgtq.push: timeout must be more than 0 and "
                                    "at most 365 days") != std::string::npos,
                      error.what());
      }
    }
    CHECK_NOTHROW(conn.run_script("SELECT pgtq.push('q', 't', timeout => '365 days')"));
    CHECK_NOTHROW(conn.run_script("SELECT pgtq.push('q', 't', timeout => '1 microsecond')"));
    CHECK(task_count(conn) == 2);
  }
  SUBCASE("the client, before sending") {
    for (const Delay bad : {Delay(0s), Delay(-1s), Delay(24h * 366), Delay(100ns)}) {
      CAPTURE(bad.seconds());
      CHECK_THROWS_WITH(push(pg, "q", "t", {.timeout = bad}),
                        doctest::Contains("timeout must be more than 0 and at most 365 days"));
      CHECK_THROWS_WITH(push_many(pg, "q", {{"t"}, {"t", args(), {.timeout = bad}}}),
                        doctest::Contains("pgtq.push_many: task 2: timeout must be more than 0"));
    }
    CHECK(task_count(conn) == 0);
  }
  SUBCASE("push_many, both forms, name the element") {
    CHECK_THROWS_WITH(conn.run_script(R"(SELECT pgtq.push_many('q', '[{"task": "t"},
                                                        {"task": "t", "timeout": "0"}]'))"),
                      doctest::Contains("pgtq.push_many: element 2: timeout must be more than 0"));
    CHECK_THROWS_WITH(
        conn.run_script(R"(SELECT pgtq.push_many('q', '[{"task": "t", "timeout": "soon"}]'))"),
        doctest::Contains("pgtq.push_many: element 1: timeout: invalid input syntax"));
    CHECK_THROWS_WITH(
        conn.run_script(R"(SELECT pgtq.push_many('q', '[{"task": "t", "timeout": 30}]'))"),
        doctest::Contains("pgtq.push_many: element 1: timeout must be a JSON string"));
    CHECK_THROWS_WITH(conn.run_script("SELECT pgtq.push_many('q', '{t,t}', '{NULL,NULL}',"
                                      " timeouts => '{1s,2 months}')"),
                      doctest::Contains("pgtq.push_many: timeouts[2] must be more than 0"));
    CHECK_THROWS_WITH(
        conn.run_script("SELECT pgtq.push_many('q', '{t,t}', '{NULL,NULL}', timeouts => '{1s}')"),
        doctest::Contains("timeouts, tags and metadata must have as many"));
    CHECK(task_count(conn) == 0);
  }
}
