// Pushing through pgtq.push directly and through client.hpp, with and without options.
#include "pgtq/client.hpp"
#include "support/daemon_process.hpp"
#include "support/task_state.hpp"
#include "support/test_database.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

using namespace pgtq;
using namespace std::chrono_literals;
using pgtq::test::field;

TEST_CASE("push through SQL and through the header land in the same table") {
  test::TestDatabase database;
  db::Connection conn = database.connect();

  const std::int64_t by_sql =
      conn.run_script("SELECT pgtq.push('emails', 'send_welcome', '{\"user_id\":1}')").int64(0, 0);
  const std::int64_t by_header =
      push(conn.native(), "emails", "send_welcome", json(R"({"user_id":42})"));
  CHECK(by_header > by_sql);

  CHECK(field(conn, by_sql, "args") == R"({"user_id": 1})");
  CHECK(field(conn, by_header, "args") == R"({"user_id": 42})");
  for (const std::int64_t id : {by_sql, by_header}) {
    CHECK(field(conn, id, "queue") == "emails");
    CHECK(field(conn, id, "task") == "send_welcome");
    CHECK(field(conn, id, "state") == "queued");
    CHECK(field(conn, id, "priority") == "0");
    CHECK(field(conn, id, "max_attempts") == "5");
    CHECK(field(conn, id, "attempts") == "0");
  }
}

TEST_CASE("the typed form pushes its arguments as a JSON array") {
  test::TestDatabase database;
  db::Connection conn = database.connect();

  const std::int64_t add = push(conn.native(), "math", "add_numbers", 2, 3);
  CHECK(field(conn, add, "args") == "[2, 3]");
  CHECK(field(conn, add, "args = '[2,3]'::jsonb") == "true");

  const std::int64_t none = push(conn.native(), "math", "tick");
  CHECK(field(conn, none, "args") == "[]");

  const std::int64_t mixed = push(conn.native(),
                                  "math",
                                  "mixed",
                                  "x",
                                  1.5,
                                  true,
                                  nullptr,
                                  std::vector<int>{1, 2},
                                  std::map<std::string, std::string>{{"k", "grüße \"q\"\n"}});
  CHECK(
      field(conn,
            mixed,
            "args = '[\"x\", 1.5, true, null, [1, 2], {\"k\": \"grüße \\\"q\\\"\\n\"}]'::jsonb") ==
      "true");

  const std::int64_t one_string = push(conn.native(), "math", "shout", args("x"));
  CHECK(field(conn, one_string, "args") == R"(["x"])");

  const std::int64_t raw_json =
      push(conn.native(), "math", "echo", json(R"({"a":[1,{"b":null}]})"));
  CHECK(field(conn, raw_json, "args") == R"({"a": [1, {"b": null}]})");
}

TEST_CASE("a lone string is one string argument, never the args document") {
  test::TestDatabase database;
  db::Connection conn = database.connect();

  // The reported input: this was sent as the args text and refused with 22P02.
  const std::int64_t literal = push(conn.native(), "q", "t", "hello world");
  CHECK(field(conn, literal, "args") == R"(["hello world"])");
  // User input that happens to be JSON stays a string; it was silently taken as the args.
  const std::string input = R"({"user_id":1})";
  const std::int64_t text = push(conn.native(), "q", "t", input);
  CHECK(field(conn, text, "args") == R"(["{\"user_id\":1}"])");
  const std::int64_t view = push(conn.native(), "q", "t", std::string_view(input));
  CHECK(field(conn, view, "args") == R"(["{\"user_id\":1}"])");
  const char* pointer = "[1, 2]";
  const std::int64_t from_pointer = PreparedPusher(conn.native()).push("q", "t", pointer);
  CHECK(field(conn, from_pointer, "args") == R"(["[1, 2]"])");
  // Saying so makes it the args document.
  const std::int64_t raw = push(conn.native(), "q", "t", json(input));
  CHECK(field(conn, raw, "args") == R"({"user_id": 1})");
}

TEST_CASE("options: delay schedules, priority and max_attempts are stored") {
  test::TestDatabase database;
  db::Connection conn = database.connect();

  SUBCASE("delay") {
    const std::int64_t id = push(conn.native(), "q", "later", args(1), {.delay = 10min});
    CHECK(field(conn, id, "state") == "scheduled");
    CHECK(field(conn, id, "run_at > now() + interval '9 minutes'") == "true");
    CHECK(field(conn, id, "run_at < now() + interval '11 minutes'") == "true");
  }
  SUBCASE("run_at as text and as time_point") {
    const std::int64_t text = push(conn.native(), "q", "at", {.run_at = "2100-01-01 00:00:00+00"});
    CHECK(field(conn, text, "state") == "scheduled");
    CHECK(field(conn, text, "run_at = '2100-01-01 00:00:00+00'") == "true");

    const auto when =
        std::chrono::system_clock::time_point{} + std::chrono::microseconds(4102444800123456);
    const std::int64_t point = push(conn.native(), "q", "at", {.run_at = when});
    CHECK(field(conn, point, "run_at = '2100-01-01 00:00:00.123456+00'") == "true");

    const std::int64_t past = push(conn.native(), "q", "at", {.run_at = "2000-01-01 00:00:00+00"});
    CHECK(field(conn, past, "state") == "queued");
  }
  SUBCASE("run_at and delay add up") {
    const std::int64_t id =
        push(conn.native(), "q", "at", {.run_at = "2100-01-01 00:00:00+00", .delay = 90s});
    CHECK(field(conn, id, "run_at = '2100-01-01 00:01:30+00'") == "true");
  }
  SUBCASE("priority and max_attempts") {
    const std::int64_t id = push(conn.native(),
                                 "q",
                                 "urgent",
                                 json(R"({"x":1})"),
                                 {.priority = -32768, .max_attempts = 1000});
    CHECK(field(conn, id, "priority") == "-32768");
    CHECK(field(conn, id, "max_attempts") == "1000");
    CHECK(field(conn, id, "state") == "queued");
  }
}

TEST_CASE("pushed numbers beyond double and unknown object keys reach C++ handlers in pgtqd") {
  test::TestDatabase database;
  db::Connection conn = database.connect();
  PGconn* pg = conn.native();
  // jsonb keeps 1e-400 and 1e400 exactly, and writes them out as 0.000…1 and 1000…0: the
  // first crashed pgtqd's args parser, the second was "not valid JSON" to every handler.
  const std::int64_t tiny = push(pg, "default", "mean", json(R"({"values": [1e-400]})"));
  const std::int64_t huge = push(pg, "default", "add_numbers", json("[1e400, 1]"));
  // A field the handler does not know yet is ignored.
  const std::int64_t newer =
      push(pg, "default", "greet", json(R"({"name": "Ada", "locale": "en"})"));
  const std::string tiny_id = std::to_string(tiny);
  const std::string huge_id = std::to_string(huge);
  const std::string newer_id = std::to_string(newer);

  test::DaemonProcess daemon({.dsn = database.dsn()});
  REQUIRE_MESSAGE(test::reaches(conn, tiny_id, "failed"), daemon.log());
  REQUIRE_MESSAGE(test::reaches(conn, huge_id, "failed"), daemon.log());
  REQUIRE_MESSAGE(test::reaches(conn, newer_id, "succeeded"), daemon.log());
  CHECK(field(conn, tiny, "attempts") == "1");
  CHECK(field(conn, tiny, "last_error") ==
        R"(mean: argument 1 ("values") at [0]: number 0.00000000000000000000000000000000000000... )"
        "is too small for double (it would become 0)");
  CHECK(field(conn, huge, "last_error") ==
        "add_numbers: argument 1: number 1000000000000000000000000000000000000000... is out of "
        "range for int64_t [-9223372036854775808, 9223372036854775807]");
  CHECK(field(conn, newer, "result") == R"("Hello, Ada!")");
}
