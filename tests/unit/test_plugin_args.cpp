// plugin.hpp: JSON args -> handler parameters, and the errors when they do not fit.
#include "test_plugin_fake_host.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

using pgtq::test::FakeHost;
using pgtq::test::Outcome;

namespace {

template <class F>
Outcome run_one(F fn, std::string args, std::initializer_list<std::string_view> names = {}) {
  FakeHost host;
  REQUIRE(host.load([&](pgtq::Registry& r) { r.add("h", fn, names); }) == 0);
  return host.run("h", std::move(args));
}

// The result of a successful run, or the error of a failed one, for compact CHECKs.
std::string done(const Outcome& outcome) {
  REQUIRE_MESSAGE(outcome.status == PGTQ_DONE, outcome.task.error.value_or(""));
  return outcome.task.result.value_or("(no result)");
}
std::string failed(const Outcome& outcome) {
  REQUIRE(outcome.status == PGTQ_FAIL);
  return outcome.task.error.value_or("(no error)");
}

std::int64_t add_numbers(std::int64_t a, std::int64_t b) {
  return a + b;
}

} // namespace

TEST_CASE("plugin.hpp converts positional args to parameter types") {
  SUBCASE("integers") {
    CHECK(done(run_one(add_numbers, "[2, 3]")) == "5");
    CHECK(done(run_one([](std::int8_t v) { return v; }, "[-128]")) == "-128");
    CHECK(done(run_one([](std::uint64_t v) { return v; }, "[18446744073709551615]")) ==
          "18446744073709551615");
    CHECK(done(run_one([](std::int64_t v) { return v; }, "[-9223372036854775808]")) ==
          "-9223372036854775808");
    CHECK(done(run_one([](int v) { return v; }, "[2.0]")) == "2");
    CHECK(done(run_one([](unsigned short v) { return v; }, "[65535]")) == "65535");
  }
  SUBCASE("bool, floating point, strings") {
    CHECK(done(run_one([](bool v) { return !v; }, "[true]")) == "false");
    CHECK(done(run_one([](double v) { return v * 2; }, "[1.25]")) == "2.5");
    CHECK(done(run_one([](double v) { return v; }, "[3]")) == "3.0");
    CHECK(done(run_one([](float v) { return v; }, "[0.5]")) == "0.5");
    CHECK(done(run_one([](const std::string& s) { return s + "!"; }, R"(["hi"])")) == R"("hi!")");
    CHECK(done(run_one([](std::string_view s) { return s.size(); }, R"(["a\u00e9"])")) == "3");
    CHECK(done(run_one([](std::string s) { return s.size(); }, R"(["a\u0000b"])")) == "3");
  }
  SUBCASE("containers") {
    auto sum = [](const std::vector<int>& xs) {
      int total = 0;
      for (const int x : xs) {
        total += x;
      }
      return total;
    };
    CHECK(done(run_one(sum, "[[1, 2, 3]]")) == "6");
    CHECK(done(run_one(sum, "[[]]")) == "0");
    CHECK(done(run_one([](std::vector<std::vector<std::string>> v) { return v; },
                       R"([[["a"], [], ["b", "c"]]])")) == R"([["a"],[],["b","c"]])");
    CHECK(done(run_one([](std::map<std::string, int> m) { return m; }, R"([{"b": 2, "a": 1}])")) ==
          R"({"a":1,"b":2})");
    CHECK(done(run_one([](const std::unordered_map<std::string, bool>& m) { return m.size(); },
                       R"([{"x": true}])")) == "1");
  }
  SUBCASE("std::optional: absent, null or a value") {
    auto show = [](int a, std::optional<int> b) { return b ? a + *b : -a; };
    CHECK(done(run_one(show, "[1]")) == "-1");
    CHECK(done(run_one(show, "[1, null]")) == "-1");
    CHECK(done(run_one(show, "[1, 5]")) == "6");
    CHECK(done(run_one([](std::optional<std::vector<int>> v) { return v.has_value(); }, "[]")) ==
          "false");
  }
  SUBCASE("raw JSON: pgtq::Json, const rapidjson::Value&, pgtq::Args") {
    CHECK(done(run_one([](const pgtq::Json& j) { return j.text(); }, R"([{"a": [1, 2]}])")) ==
          R"("{\"a\":[1,2]}")");
    CHECK(done(run_one([](const rapidjson::Value& v) { return v.IsObject(); }, "[{}]")) == "true");
    CHECK(done(run_one([](pgtq::Args args) { return std::string(args.text()); },
                       R"({"anything": 1})")) == R"("{\"anything\": 1}")");
    CHECK(done(run_one([](pgtq::Context&, const pgtq::Args& args) { return args.json().Size(); },
                       "[1, 2, 3]")) == "3");
    CHECK(failed(run_one([](pgtq::Args) {}, "5")) ==
          "h: args must be a JSON array or object, got number 5");
  }
  SUBCASE("no parameters") {
    CHECK(done(run_one([] { return 1; }, "[]")) == "1");
    CHECK(done(run_one([] { return 1; }, "{}")) == "1");
    CHECK(done(run_one([] { return 1; }, "null")) == "1");
    CHECK(done(run_one([] { return 1; }, "")) == "1");
  }
}

TEST_CASE("plugin.hpp matches object args to registered parameter names") {
  const auto greet = [](const std::string& name, std::optional<std::string> greeting) {
    return greeting.value_or("Hello") + ", " + name;
  };
  CHECK(done(run_one(greet, R"({"name": "Ada"})", {"name", "greeting"})) == R"("Hello, Ada")");
  CHECK(done(run_one(greet, R"({"greeting": "Hi", "name": "Ada"})", {"name", "greeting"})) ==
        R"("Hi, Ada")");
  CHECK(done(run_one(greet, R"(["Ada", "Hi"])", {"name", "greeting"})) == R"("Hi, Ada")");
  CHECK(failed(run_one(greet, R"({"greeting": "Hi"})", {"name", "greeting"})) ==
        R"(h: missing argument 1 ("name"))");
  CHECK(failed(run_one(greet, R"({"name": "Ada"})")) ==
        "h: args must be an array (no parameter names were registered), got object");
}

TEST_CASE("object args may carry keys the handler does not know yet") {
  const auto greet = [](const std::string& name, std::optional<std::string> greeting) {
    return greeting.value_or("Hello") + ", " + name;
  };
  // A producer upgraded before its workers adds a field: the task still runs.
  CHECK(done(run_one(greet,
                     R"({"name": "Ada", "locale": "en", "greeting": "Hi"})",
                     {"name", "greeting"})) == R"("Hi, Ada")");
  CHECK(done(run_one(greet, R"({"nmae": 1, "name": "Ada"})", {"name", "greeting"})) ==
        R"("Hello, Ada")");
  CHECK(done(run_one([] { return 1; }, R"({"x": 1})")) == "1");
  // An unknown key does not stand in for a missing one, and a known key is still checked.
  CHECK(failed(run_one(greet, R"({"nmae": "Ada"})", {"name", "greeting"})) ==
        R"(h: missing argument 1 ("name"))");
  CHECK(failed(run_one(greet, R"({"name": 5, "extra": 1e400})", {"name", "greeting"})) ==
        R"(h: argument 1 ("name"): expected string, got number 5)");
}

TEST_CASE("strict_args() refuses object keys the handler does not know") {
  const auto greet = [](const std::string& name, std::optional<std::string> greeting) {
    return greeting.value_or("Hello") + ", " + name;
  };
  FakeHost host;
  REQUIRE(host.load([&](pgtq::Registry& r) {
    r.add("greet", greet, {"name", "greeting"}).strict_args();
    PGTQ_HANDLER(r, add_numbers, {"a", "b"}).strict_args().backoff(1, 2, 3);
    r.add("none", [] { return 1; }).strict_args();
  }) == 0);
  CHECK(host.run("greet", R"({"name": "Ada"})").task.result == R"("Hello, Ada")");
  const Outcome unknown = host.run("greet", R"({"name": "Ada", "nmae": 1})");
  CHECK(unknown.status == PGTQ_FAIL);
  CHECK(unknown.task.error == R"(greet: unexpected argument "nmae" (expected "name", "greeting"))");
  CHECK(host.run("add_numbers", R"({"a": 1, "b": 2, "c": 3})").task.error ==
        R"(add_numbers: unexpected argument "c" (expected "a", "b"))");
  CHECK(host.run("add_numbers", "[1, 2]").task.result == "3");
  CHECK(host.run("none", R"({"x": 1})").task.error ==
        R"(none: unexpected argument "x" (takes no arguments))");
  CHECK(host.find("add_numbers")->backoff_cap_s == 3);

  SUBCASE("not for pgtq::Args, which has no parameters") {
    FakeHost args_host;
    CHECK(args_host.load([](pgtq::Registry& r) { r.add("h", [](pgtq::Args) {}).strict_args(); }) !=
          0);
    CHECK(args_host.names.empty());
  }
}

TEST_CASE("parameter names must be distinct and non-empty") {
  const auto two = [](std::optional<int>, std::optional<int>) {};
  const auto refused = [&](std::initializer_list<std::string_view> names) {
    FakeHost host;
    return host.load([&](pgtq::Registry& r) { r.add("h", two, names); }) != 0;
  };
  CHECK(refused({"a", "a"}));
  CHECK(refused({"", "b"})); // an empty first name went unnoticed
  CHECK(refused({"a", ""}));
  CHECK_FALSE(refused({"a", "b"}));
}

TEST_CASE("plugin.hpp rejects args that do not fit, naming the argument") {
  SUBCASE("the documented example") {
    FakeHost host;
    REQUIRE(host.load([](pgtq::Registry& r) { PGTQ_HANDLER(r, add_numbers, {"a", "b"}); }) == 0);
    const Outcome outcome = host.run("add_numbers", R"([2, "x"])");
    CHECK(outcome.status == PGTQ_FAIL);
    CHECK(outcome.task.error ==
          R"(add_numbers: argument 2 ("b"): expected integer, got string "x")");
    CHECK_FALSE(outcome.task.result.has_value());
  }
  SUBCASE("argument count") {
    CHECK(failed(run_one(add_numbers, "[1]")) == "h: expected 2 arguments, got 1");
    CHECK(failed(run_one(add_numbers, "[1, 2, 3]")) == "h: expected 2 arguments, got 3");
    CHECK(failed(run_one([](int, std::optional<int>) {}, "[]")) ==
          "h: expected 1 to 2 arguments, got 0");
    CHECK(failed(run_one([](int) {}, "[]")) == "h: expected 1 argument, got 0");
    CHECK(failed(run_one([] {}, "[1]")) == "h: expected 0 arguments, got 1");
  }
  SUBCASE("types") {
    CHECK(failed(run_one([](bool) {}, "[1]")) == "h: argument 1: expected boolean, got number 1");
    CHECK(failed(run_one([](int) {}, "[2.5]")) ==
          "h: argument 1: expected integer, got number 2.5");
    CHECK(failed(run_one([](int) {}, "[true]")) ==
          "h: argument 1: expected integer, got boolean true");
    CHECK(failed(run_one([](int) {}, "[null]")) == "h: argument 1: expected integer, got null");
    CHECK(failed(run_one([](double) {}, R"(["1"])")) ==
          R"(h: argument 1: expected number, got string "1")");
    CHECK(failed(run_one([](std::string) {}, "[[1, 2]]")) ==
          "h: argument 1: expected string, got array of 2");
    CHECK(failed(run_one([](std::vector<int>) {}, "[{}]")) ==
          "h: argument 1: expected array, got object");
    CHECK(failed(run_one([](std::map<std::string, int>) {}, "[[]]")) ==
          "h: argument 1: expected object, got array of 0");
  }
  SUBCASE("nested values are located") {
    CHECK(failed(run_one([](std::vector<int>) {}, R"([[1, "x"]])")) ==
          R"(h: argument 1 at [1]: expected integer, got string "x")");
    CHECK(failed(run_one([](std::vector<std::map<std::string, int>>) {},
                         R"([[{"k": 1}, {"j": []}]])")) ==
          R"(h: argument 1 at [1]["j"]: expected integer, got array of 0)");
  }
  SUBCASE("ranges") {
    CHECK(failed(run_one([](std::int8_t) {}, "[128]")) ==
          "h: argument 1: number 128 is out of range for int8_t [-128, 127]");
    CHECK(failed(run_one([](std::uint8_t) {}, "[-1]")) ==
          "h: argument 1: number -1 is out of range for uint8_t [0, 255]");
    CHECK(failed(run_one([](unsigned) {}, "[4294967296]")) ==
          "h: argument 1: number 4294967296 is out of range for uint32_t [0, 4294967295]");
    CHECK(failed(run_one([](std::int64_t) {}, "[1e30]")) ==
          "h: argument 1: number 1e30 is out of range for int64_t [-9223372036854775808, "
          "9223372036854775807]");
    CHECK(failed(run_one([](std::int64_t) {}, "[18446744073709551615]")) ==
          "h: argument 1: number 18446744073709551615 is out of range for int64_t "
          "[-9223372036854775808, 9223372036854775807]");
    CHECK(failed(run_one([](float) {}, "[1e300]")) ==
          "h: argument 1: number 1e300 is out of range for float");
  }
  SUBCASE("long values are shortened in messages") {
    const std::string error = failed(run_one([](int) {}, "[\"" + std::string(100, 'y') + "\"]"));
    CHECK(error == "h: argument 1: expected integer, got string \"" + std::string(39, 'y') + "...");
  }
  SUBCASE("args that are not an array or object, or not JSON") {
    CHECK(failed(run_one(add_numbers, R"("2, 3")")) ==
          R"(h: args must be a JSON array or object, got string "2, 3")");
    CHECK(failed(run_one(add_numbers, "[1,")).rfind("h: args are not valid JSON: ", 0) == 0);
  }
}
