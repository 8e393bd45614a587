// Every bad input is refused with its own error, and leaves nothing behind.
#include "db/pg_error.hpp"
#include "pgtq/client.hpp"
#include "support/test_database.hpp"

#include <doctest/doctest.h>

#include <functional>
#include <string>
#include <vector>

using namespace pgtq;

namespace {

// Runs a push that must fail, checks the SQLSTATE and message, and that no task exists.
void check_refused(db::Connection& conn,
                   const std::function<void()>& attempt,
                   const std::string& sqlstate,
                   const std::string& message_part) {
  try {
    attempt();
    FAIL("accepted, expected " << sqlstate << ": " << message_part);
  } catch (const Error& error) {
    CHECK(error.sqlstate() == sqlstate);
    CHECK_MESSAGE(std::string(error.what()).find(message_part) != std::string::npos, error.what());
  } catch (const db::PgError& error) { // statements run as SQL text, not through the client
    CHECK(error.sqlstate() == sqlstate);
    CHECK_MESSAGE(std::string(error.what()).find(message_part) != std::string::npos, error.what());
  }
  CHECK(conn.run_script("SELECT count(*) FROM pgtq.tasks").int64(0, 0) == 0);
}

} // namespace

TEST_CASE("bad queue and task names are refused") {
  test::TestDatabase database;
  db::Connection conn = database.connect();
  PGconn* pg = conn.native();
  const std::string long_name(129, 'n');

  check_refused(
      conn, [&] { push(pg, "", "t"); }, "22023", "pgtq.push: pgtq: queue name is empty");
  check_refused(
      conn,
      [&] { push(pg, long_name, "t"); },
      "22023",
      "queue name is 129 characters long, the limit is 128");
  check_refused(
      conn,
      [&] { push(pg, "a b", "t"); },
      "22023",
      R"(queue name "a b" has characters outside [A-Za-z0-9_.:-])");
  check_refused(
      conn, [&] { push(pg, "q", ""); }, "22023", "task name is empty");
  check_refused(
      conn, [&] { push(pg, "q", long_name); }, "22023", "task name is 129 characters long");
  check_refused(
      conn,
      [&] { push(pg, "q", "a b"); },
      "22023",
      R"(pgtq.push: pgtq: task name "a b" has characters outside [A-Za-z0-9_.:-])");
  check_refused(
      conn, [&] { push(pg, "q", "semi;colon"); }, "22023", "characters outside");
  check_refused(
      conn, [&] { push(pg, "q", "grüße"); }, "22023", "characters outside");

  // The longest names are fine.
  const std::string longest(128, 'n');
  CHECK_NOTHROW(push(pg, longest, longest));
}

TEST_CASE("args must be a JSON array or object") {
  test::TestDatabase database;
  db::Connection conn = database.connect();
  PGconn* pg = conn.native();

  check_refused(
      conn,
      [&] { push(pg, "q", "t", json("5")); },
      "22023",
      "must be a JSON array or object, not number");
  check_refused(
      conn, [&] { push(pg, "q", "t", json(R"("x")")); }, "22023", "not string");
  check_refused(
      conn, [&] { push(pg, "q", "t", json("null")); }, "22023", "not null");
  check_refused(
      conn, [&] { push(pg, "q", "t", json("true")); }, "22023", "not boolean");
  check_refused(
      conn, [&] { push(pg, "q", "t", to_json(5)); }, "22023", "not number");
  check_refused(
      conn,
      [&] { conn.run_script("SELECT pgtq.push('q', 't', '{not json')"); },
      "22P02",
      "invalid input syntax for type json");
  check_refused(
      conn, [&] { push(pg, "q", "t", json("{not json")); }, "22P02", "invalid JSON at byte 1");
  // JSON allows \u0000, PostgreSQL's jsonb does not.
  check_refused(
      conn, [&] { push(pg, "q", "t", args(std::string("a\0b", 3))); }, "22P05", "");
}

TEST_CASE("args up to 1 MiB of JSON text are accepted and larger ones refused") {
  test::TestDatabase database;
  db::Connection conn = database.connect();
  PGconn* pg = conn.native();
  constexpr std::size_t k_limit = 1048576;

  // ["xxx…"] is 4 bytes longer than its string.
  const std::string too_big = "[\"" + std::string(k_limit - 3, 'x') + "\"]";
  check_refused(
      conn,
      [&] { push(pg, "q", "t", json(too_big)); },
      "54000",
      "are 1048577 bytes as JSON text, the limit is 1048576");
  // Control characters are 1 byte stored but 6 as text; the limit is on the text.
  const JsonText escaped = args(std::string(200000, '\x01'));
  check_refused(
      conn, [&] { push(pg, "q", "t", escaped); }, "54000", "the limit is 1048576");

  // A compressible document read from a table is stored compressed, far under the limit.
  conn.run_script("CREATE TABLE big_args AS SELECT jsonb_build_array(repeat('ab', 600000)) AS doc");
  check_refused(
      conn,
      [&] { conn.run_script("SELECT pgtq.push('q', 't', (SELECT doc FROM big_args))"); },
      "54000",
      "are 1200004 bytes as JSON text");
  check_refused(
      conn,
      [&] {
        conn.run_script("SELECT pgtq.push_many('q', (SELECT jsonb_build_array(jsonb_build_object("
                        "'task', 't', 'args', doc)) FROM big_args))");
      },
      "54000",
      "are 1200004 bytes as JSON text");

  const std::string exactly = "[\"" + std::string(k_limit - 4, 'x') + "\"]";
  const std::int64_t id = push(pg, "q", "t", json(exactly));
  CHECK(conn.run_script("SELECT octet_length(args::text) FROM pgtq.tasks WHERE id = " +
                        std::to_string(id))
            .int64(0, 0) == static_cast<std::int64_t>(k_limit));
}

TEST_CASE("priority and max_attempts out of range are refused") {
  test::TestDatabase database;
  db::Connection conn = database.connect();
  PGconn* pg = conn.native();

  check_refused(
      conn,
      [&] { push(pg, "q", "t", {.priority = 32768}); },
      "22023",
      "priority 32768 of task \"t\" is outside -32768..32767");
  check_refused(
      conn, [&] { push(pg, "q", "t", {.priority = -32769}); }, "22023", "outside -32768..32767");
  check_refused(
      conn,
      [&] { push(pg, "q", "t", {.max_attempts = 0}); },
      "22023",
      "max_attempts 0 of task \"t\" is outside 1..1000");
  check_refused(
      conn, [&] { push(pg, "q", "t", {.max_attempts = 1001}); }, "22023", "outside 1..1000");
  check_refused(
      conn, [&] { push(pg, "q", "t", {.run_at = "not a time"}); }, "22007", "");
  CHECK_NOTHROW(push(pg, "q", "t", {.priority = 32767, .max_attempts = 1}));
}

TEST_CASE("push_many refuses bad input as a whole") {
  test::TestDatabase database;
  db::Connection conn = database.connect();
  PGconn* pg = conn.native();

  SUBCASE("tasks that are not an array") {
    for (const char* tasks : {"{\"task\":\"a\"}", "5", "null"}) {
      CAPTURE(tasks);
      check_refused(
          conn,
          [&] { conn.run_script(std::string("SELECT pgtq.push_many('q', '") + tasks + "')"); },
          "22023",
          "tasks must be a JSON array of task objects");
    }
    CHECK_THROWS_WITH(conn.run_script("SELECT pgtq.push_many('q', '{\"task\":\"a\"}')"),
                      doctest::Contains("tasks must be a JSON array of task objects, not object"));
  }
  SUBCASE("an element that is not an object") {
    CHECK_THROWS_WITH(conn.run_script(R"(SELECT pgtq.push_many('q', '[{"task":"a"}, 5]'))"),
                      doctest::Contains("push_many: element 2 of tasks is not a JSON object"));
    CHECK(conn.run_script("SELECT count(*) FROM pgtq.tasks").int64(0, 0) == 0);
  }
  SUBCASE("one bad task among good ones") {
    std::vector<TaskSpec> tasks(10, TaskSpec{"good", json("[1]")});
    tasks[6] = TaskSpec{"bad name"};
    check_refused(
        conn, [&] { push_many(pg, "q", tasks); }, "22023", "task name \"bad name\"");
    tasks[6] = TaskSpec{"good", json("42")};
    check_refused(
        conn, [&] { push_many(pg, "q", tasks); }, "22023", "not number");
    tasks[6] = TaskSpec{"good", args(), {.priority = 99999}};
    check_refused(
        conn, [&] { push_many(pg, "q", tasks); }, "22023", "priority 99999");
    tasks[6] = TaskSpec{"good", args(), {.max_attempts = 0}};
    check_refused(
        conn, [&] { push_many(pg, "q", tasks); }, "22023", "max_attempts 0");
    tasks[6] = TaskSpec{""};
    check_refused(
        conn, [&] { push_many(pg, "q", tasks); }, "22023", "task name is empty");
    tasks[6] = TaskSpec{std::string(129, 'n')};
    check_refused(
        conn,
        [&] { push_many(pg, "q", tasks); },
        "22023",
        "task name is 129 characters long, the limit is 128");
    tasks[6] = TaskSpec{"good", args(std::string(1048576, 'x'))};
    check_refused(
        conn, [&] { push_many(pg, "q", tasks); }, "54000", "the limit is 1048576");
    tasks[6] = TaskSpec{std::string(128, 'n')};
    CHECK(push_many(pg, "q", tasks).size() == 10);
  }
  SUBCASE("an element without a task name") {
    check_refused(
        conn,
        [&] { conn.run_script(R"(SELECT pgtq.push_many('q', '[{"task":"a"}, {"args":[]}]'))"); },
        "22023",
        "element 2: \"task\" is missing");
  }
  SUBCASE("a missing task name") {
    check_refused(
        conn,
        [&] { conn.run_script(R"(SELECT pgtq.push_many('q', '[{"args":[1]}]'))"); },
        "22023",
        "element 1: \"task\" is missing");
  }
  SUBCASE("a bad queue name") {
    check_refused(
        conn, [&] { push_many(pg, "", {{"t"}}); }, "22023", "queue name is empty");
  }
  SUBCASE("raw args that would break out of their element cannot even be made") {
    check_refused(
        conn,
        [&] {
          push_many(pg, "q", {{"t", json(R"([1]},{"task":"smuggled","args":[2])")}});
        },
        "22P02",
        "invalid JSON at byte 3");
  }
}
