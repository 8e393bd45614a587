// Fencing tokens that cannot be guessed, and lease renewal that another session's row lock
// cannot hold up (sql/migrations/0007).
#include "pgtq/client.hpp"
#include "support/sql.hpp"
#include "support/task_state.hpp"
#include "support/test_database.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <cstdint>
#include <set>
#include <string>
#include <vector>

using namespace pgtq;
using namespace std::chrono_literals;
using pgtq::test::field;
using pgtq::test::query;
using pgtq::test::scalar;

TEST_CASE("a running task cannot be completed by guessing its claim") {
  test::TestDatabase database;
  db::Connection conn = database.connect();
  PGconn* pg = conn.native();
  const std::int64_t id = push(pg, "q", "t", 1);
  const std::vector<ClaimedTask> claimed = pop(pg, "q", {"t"}, 1, "w");
  REQUIRE(claimed.size() == 1);

  // The guesses a counter would make: the first claims of a task.
  for (const std::int64_t guess : {0, 1, 2, 3}) {
    CHECK(guess != claimed[0].claim);
    ClaimedTask forged = claimed[0];
    forged.claim = guess;
    CHECK_FALSE(complete(pg, forged, "\"forged\""));
    CHECK_FALSE(fail(pg, forged, "forged", std::nullopt, true));
  }
  CHECK(field(conn, id, "state") == "running");
  CHECK(complete(pg, claimed[0], "1"));
  CHECK(field(conn, id, "state") == "succeeded");
}

TEST_CASE("claim tokens are 64-bit random numbers, different for every claim") {
  test::TestDatabase database;
  db::Connection conn = database.connect();
  PGconn* pg = conn.native();
  for (int i = 0; i < 200; ++i) {
    push(pg, "q", "t", i);
  }
  std::set<std::int64_t> tokens;
  bool any_beyond_32_bits = false;
  for (const ClaimedTask& task : pop(pg, "q", {"t"}, 200, "w")) {
    tokens.insert(task.claim);
    any_beyond_32_bits |= task.claim > INT32_MAX || task.claim < INT32_MIN;
  }
  CHECK(tokens.size() == 200);
  CHECK(any_beyond_32_bits);
  // The count of claims stays, as a plain counter.
  CHECK(scalar(conn, "SELECT min(claims) || '/' || max(claims) FROM pgtq.live_tasks") == "1/1");
}

TEST_CASE("a heartbeat renews every lease it can while another session holds one row lock") {
  test::TestDatabase database;
  db::Connection conn = database.connect();
  db::Connection locker = database.connect();
  PGconn* pg = conn.native();
  const std::int64_t x = push(pg, "q", "t", 1);
  const std::int64_t y = push(pg, "q", "t", 2);
  const std::vector<ClaimedTask> claimed = pop(pg, "q", {"t"}, 2, "w", 4s);
  REQUIRE(claimed.size() == 2);
  const std::string before_y = field(conn, y, "locked_until");

  query(locker, "BEGIN");
  query(locker, "UPDATE pgtq.live_tasks SET max_attempts = 10 WHERE id = $1", {std::to_string(x)});
  // Without the per-row skip the heartbeat waits for the lock: here an error after 2 s.
  query(conn, "SET lock_timeout = '2s'");
  const db::Result result = query(
      conn,
      "SELECT id, status FROM pgtq.heartbeat(ARRAY[$1, $2]::bigint[], ARRAY[$3, $4]::bigint[],"
      " '30 seconds') ORDER BY id",
      {std::to_string(claimed[0].id),
       std::to_string(claimed[1].id),
       std::to_string(claimed[0].claim),
       std::to_string(claimed[1].claim)});
  REQUIRE(result.rows() == 2);
  CHECK(result.int64(0, 0) == x);
  CHECK(result.string(0, 1) == "busy");
  CHECK(result.int64(1, 0) == y);
  CHECK(result.string(1, 1) == "renewed");
  CHECK(field(conn, y, "locked_until > now() + interval '20 seconds'") == "true");
  CHECK(field(conn, y, "locked_until") != before_y);
  query(locker, "ROLLBACK");

  // Lost and cancelled tasks are reported as such.
  query(conn, "SELECT pgtq.cancel($1)", {std::to_string(y)});
  CHECK(scalar(conn,
               "SELECT string_agg(id || ':' || status, ',' ORDER BY id) FROM pgtq.heartbeat("
               "ARRAY[$1, $2, $3]::bigint[], ARRAY[$4, $5, 7]::bigint[])",
               {std::to_string(x),
                std::to_string(y),
                "999999",
                std::to_string(claimed[0].claim),
                std::to_string(claimed[1].claim)}) ==
        std::to_string(x) + ":renewed," + std::to_string(y) + ":cancel,999999:lost");
}
