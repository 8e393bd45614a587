// What grows over a task's life stays bounded, extreme delays are clamped or refused, and no
// row, whatever it holds, can stop the scheduler (sql/migrations/0008).
#include "db/queries.hpp"
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
using pgtq::test::scalar;

namespace {

ClaimedTask pop_one(PGconn* pg, const std::string& task) {
  std::vector<ClaimedTask> claimed = pop(pg, "q", {task}, 1, "w");
  REQUIRE(claimed.size() == 1);
  return claimed[0];
}

} // namespace

TEST_CASE("no row written straight into the table can make the scheduler's tick fail") {
  test::TestDatabase database;
  db::Connection conn = database.connect();
  const std::string columns = "INSERT INTO pgtq.live_tasks (queue, task, args, state, run_at, "
                              "max_attempts, attempts, locked_by, locked_until, claim, errors) ";
  query(conn,
        columns +
            "VALUES ('q', 'never', '[]', 'scheduled', 'infinity', 5, 0, NULL, NULL, NULL, '[]')");
  query(conn,
        columns +
            "VALUES ('q', 'far', '[]', 'scheduled', '294276-01-01', 5, 0, NULL, NULL, NULL, '[]')");
  query(conn,
        columns +
            "VALUES ('q', 'past', '[]', 'scheduled', '-infinity', 5, 0, NULL, NULL, NULL, '[]')");
  // Due, in a queue whose name no notification can carry (payloads stop at 8000 bytes).
  query(conn,
        columns + "VALUES (repeat('q', 9000), 'long', '[]', 'scheduled', now(), 5, 0, NULL, NULL, "
                  "NULL, '[]')");
  // Expired leases: a 1 MiB worker name and 200 earlier errors; a non-list errors value.
  query(conn,
        columns +
            "VALUES ('q', 'rescued', '[]', 'running', now(), 5, 1, repeat('w', 1048576), "
            "now() - interval '1 minute', 1, "
            "(SELECT jsonb_agg(jsonb_build_object('error', i)) FROM generate_series(1, 200) i))");
  query(conn,
        columns + "VALUES ('q', 'ended', '[]', 'running', now(), 5, 5, 'w', "
                  "now() - interval '1 minute', 2, '{\"not\": \"a list\"}')");

  const db::Result tick = conn.run_script("SELECT promoted, rescued, failed, next_due "
                                          "< now() + interval '100 years 1 day' FROM pgtq.tick()");
  CHECK(tick.string(0, 0) == "2");
  CHECK(tick.string(0, 1) == "1");
  CHECK(tick.string(0, 2) == "1");
  CHECK(tick.string(0, 3) == "t");
  // The daemon's own statement: seconds until due, at most a day, whatever run_at says.
  const db::Result daemon_tick = conn.run(db::queries::k_tick, {"10000"});
  REQUIRE_FALSE(daemon_tick.is_null(0, 3));
  const double seconds = std::stod(daemon_tick.string(0, 3));
  CHECK(seconds > 86000);
  CHECK(seconds <= 86400);

  CHECK(scalar(conn,
               "SELECT octet_length(last_error) <= 1100 FROM pgtq.tasks WHERE task = 'rescued'") ==
        "t");
  CHECK(scalar(conn, "SELECT jsonb_array_length(errors) FROM pgtq.tasks WHERE task = 'rescued'") ==
        "100");
  CHECK(scalar(conn, "SELECT errors->0->>'error' FROM pgtq.tasks WHERE task = 'rescued'") == "102");
  CHECK(scalar(conn,
               "SELECT state::text || jsonb_array_length(errors) FROM pgtq.tasks WHERE task = "
               "'ended'") == "failed1");
  // Pushing through the functions cannot create such rows in the first place.
  CHECK_THROWS_WITH(conn.run_script("SELECT pgtq.push('q', 't', '[]', run_at => 'infinity')"),
                    doctest::Contains("run_at must be within 100 years"));
}

TEST_CASE("counters at their limits do not stop the queue") {
  test::TestDatabase database;
  db::Connection conn = database.connect();
  PGconn* pg = conn.native();
  const std::int64_t id = push(pg, "q", "t", json("[1]"));
  query(conn,
        "UPDATE pgtq.live_tasks SET claims = 9223372036854775806, attempts = 2147483646, "
        "max_attempts = 1000");

  ClaimedTask task = pop_one(pg, "t");
  CHECK(task.attempt == 2147483647);
  CHECK(field(conn, id, "(SELECT claims FROM pgtq.live_tasks l WHERE l.id = tasks.id)") ==
        "9223372036854775807");
  CHECK(release(pg, {task}) == 1);
  query(conn, "UPDATE pgtq.live_tasks SET attempts = 2147483647");
  task = pop_one(pg, "t"); // claims and attempts stay at their largest values
  CHECK(task.attempt == 2147483647);
  CHECK(snooze(pg, task, 0s));
  CHECK(field(conn, id, "attempts") == "2147483646");

  // Snoozes and releases never take attempts below zero.
  task = pop_one(pg, "t");
  query(conn, "UPDATE pgtq.live_tasks SET attempts = 0");
  CHECK(snooze(pg, task, 0s));
  CHECK(field(conn, id, "attempts") == "0");
  task = pop_one(pg, "t");
  query(conn, "UPDATE pgtq.live_tasks SET attempts = 0");
  CHECK(release(pg, {task}) == 1);
  CHECK(field(conn, id, "attempts") == "0");

  CHECK(complete(pg, pop_one(pg, "t"), "1"));
  CHECK(field(conn, id, "state") == "succeeded");
}

TEST_CASE("a task's errors keep the last 100 attempts and each error at most 64 KiB") {
  test::TestDatabase database;
  db::Connection conn = database.connect();
  PGconn* pg = conn.native();
  const std::int64_t id = push(pg, "q", "t", json("[]"), {.max_attempts = 1000});
  query(conn,
        "UPDATE pgtq.live_tasks SET errors = (SELECT jsonb_agg(jsonb_build_object("
        "'error', 'old ' || i)) FROM generate_series(1, 150) i)");

  // A handler's long stack trace is cut, not refused: the outcome is kept.
  const std::string trace(10 * 1024 * 1024, 't');
  CHECK(fail(pg, pop_one(pg, "t"), trace, 0s));
  CHECK(field(conn, id, "jsonb_array_length(errors)") == "100");
  CHECK(field(conn, id, "errors->0->>'error'") == "old 52");
  CHECK(field(conn, id, "octet_length(last_error) <= 65536") == "true");
  CHECK(field(conn, id, "last_error LIKE '%[truncated]'") == "true");
  CHECK(field(conn, id, "octet_length(errors->99->>'error') <= 65536") == "true");

  // The same through finish_many, the daemon's path, with multi-byte characters.
  const ClaimedTask task = pop_one(pg, "t");
  query(conn,
        "SELECT * FROM pgtq.finish_many(jsonb_build_array(jsonb_build_object('id', $1::bigint, "
        "'claim', $2::bigint, 'status', 'fail', 'error', repeat('ü', 100000))))",
        {std::to_string(task.id), std::to_string(task.claim)});
  CHECK(field(conn, id, "state") == "failed");
  CHECK(field(conn, id, "octet_length(last_error) BETWEEN 60000 AND 65536") == "true");
  CHECK(field(conn, id, "jsonb_array_length(errors)") == "100");
}

TEST_CASE("extreme retry delays are clamped in finish_many and refused by fail and snooze") {
  test::TestDatabase database;
  db::Connection conn = database.connect();
  PGconn* pg = conn.native();

  const auto retry_in = [&](const std::string& value) {
    const std::int64_t id = push(pg, "q", "t", json("[]"), {.max_attempts = 10});
    const ClaimedTask task = pop_one(pg, "t");
    query(conn,
          "SELECT * FROM pgtq.finish_many(('[{\"id\":' || $1 || ',\"claim\":' || $2 || "
          "',\"status\":\"retry\",\"error\":\"e\",\"retry_in\":' || $3 || '}]')::jsonb)",
          {std::to_string(task.id), std::to_string(task.claim), value});
    return field(
        conn, id, "state::text || ' ' || (run_at <= now() + interval '100 years 2 days')::text");
  };
  CHECK(retry_in("1e300") == "scheduled true");
  CHECK(retry_in("\"Infinity\"") == "scheduled true");
  CHECK(retry_in("3155760001") == "scheduled true");
  CHECK(retry_in("\"NaN\"") == "queued true");
  CHECK(retry_in("-5") == "queued true");
  CHECK(retry_in("\"-Infinity\"") == "queued true");
  CHECK(retry_in("null") == "queued true");

  // pgtq.backoff never computes more than 100 years, however large its inputs.
  CHECK(scalar(conn, "SELECT pgtq.backoff(2147483647, 1e300, 1e300, 'Infinity') <= 3155760000") ==
        "t");
  CHECK(scalar(conn, "SELECT pgtq.backoff(1000, 1, 1e10, 'Infinity') <= 3155760000") == "t");
  CHECK(scalar(conn, "SELECT pgtq.backoff(1, 2e9, 2, 'Infinity') <= 3155760000") == "t");

  push(pg, "q", "direct", 1);
  const ClaimedTask task = pop_one(pg, "direct");
  CHECK_THROWS_WITH(fail(pg, task, "e", std::chrono::hours(24 * 365 * 101)),
                    doctest::Contains("retry_in must be between 0 and 100 years"));
  CHECK_THROWS_WITH(snooze(pg, task, -1s),
                    doctest::Contains("delay must be between 0 and 100 years"));
  CHECK(snooze(pg, task, std::chrono::hours(24 * 365 * 99)));
}

TEST_CASE("args and results nested 100 deep are accepted, deeper ones refused") {
  test::TestDatabase database;
  db::Connection conn = database.connect();
  PGconn* pg = conn.native();
  const auto nested = [](int depth) { return std::string(depth, '[') + std::string(depth, ']'); };

  CHECK_NOTHROW(push(pg, "q", "t", json(nested(100))));
  CHECK_THROWS_WITH(push(pg, "q", "t", json(nested(101))), doctest::Contains("more than 100 deep"));
  const ClaimedTask task = pop_one(pg, "t");
  CHECK(task.args_json.size() == 200);
  CHECK_THROWS_WITH(complete(pg, task, nested(101)), doctest::Contains("result nests"));
  CHECK(complete(pg, task, nested(100)));
}
