// plugin.hpp: numbers of any size and notation reach a handler unchanged, or fail with an
// error naming the argument; none is rounded, wrapped or truncated on the way.
#include "test_plugin_fake_host.hpp"

#include <doctest/doctest.h>

#include <array>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

using pgtq::test::FakeHost;
using pgtq::test::Outcome;

namespace {

constexpr std::string_view k_label = "h: argument 1";

// "=RESULT" for a run that succeeded, the error after "h: argument 1: " (or "h: argument 1 ")
// for one that failed permanently, so that a table cell reads as what the handler saw.
template <class F> std::string outcome(F fn, const std::string& args) {
  FakeHost host;
  REQUIRE(host.load([&](pgtq::Registry& r) { r.add("h", fn); }) == 0);
  const Outcome run = host.run("h", args);
  if (run.status == PGTQ_DONE) {
    return "=" + run.task.result.value_or("(no result)");
  }
  REQUIRE(run.status == PGTQ_FAIL);
  const std::string error = run.task.error.value_or("");
  REQUIRE_MESSAGE(error.rfind(k_label, 0) == 0, error);
  const std::string rest = error.substr(k_label.size());
  return rest.substr(rest.rfind(": ", 0) == 0 ? 2 : 1);
}

template <class T> std::string outcome_as(const std::string& number) {
  return outcome([](T value) { return value; }, "[" + number + "]");
}

// Numbers as messages show them: cut after 40 characters.
std::string shown(std::string_view number) {
  return number.size() > 40 ? std::string(number.substr(0, 40)) + "..." : std::string(number);
}

// A table cell: a result ("=5"), or the kind of error, spelled out by expected():
//   "int"    not an integer            "range"  out of an integer type's range
//   "big"    beyond a floating type    "small"  would become 0 in a floating type
//   "~N"     an integer literal the floating type cannot hold; N is the nearest value
template <class T>
std::string expected(std::string_view cell, std::string_view number, std::string_view type) {
  const std::string n = "number " + shown(number);
  if (cell == "int") {
    return "expected integer, got " + n;
  }
  if (cell == "range") {
    return n + " is out of range for " + std::string(type) + " [" +
           std::to_string(std::numeric_limits<T>::min()) + ", " +
           std::to_string(std::numeric_limits<T>::max()) + "]";
  }
  if (cell == "big") {
    return n + " is out of range for " + std::string(type);
  }
  if (cell == "small") {
    return n + " is too small for " + std::string(type) + " (it would become 0)";
  }
  if (cell.front() == '~') {
    return n + " cannot be represented exactly as " + std::string(type) + " (the nearest is " +
           std::string(cell.substr(1)) + ")";
  }
  return std::string(cell);
}

constexpr std::size_t k_columns = 10;
constexpr std::array<std::string_view, k_columns> k_type_names = {"int8_t",
                                                                  "int16_t",
                                                                  "int32_t",
                                                                  "int64_t",
                                                                  "uint8_t",
                                                                  "uint16_t",
                                                                  "uint32_t",
                                                                  "uint64_t",
                                                                  "float",
                                                                  "double"};

struct Row {
  std::string number;
  std::array<std::string_view, k_columns> cells;
};

const std::string k_400_digits = "1" + std::string(400, '0');
// How PostgreSQL's jsonb writes 1e-400 back out.
const std::string k_jsonb_1e_minus_400 = "0." + std::string(399, '0') + "1";
const std::string k_60_digits = "123456789012345678901234567890123456789012345678901234567890";

// clang-format off
// Results are written by RapidJSON, which gives the shortest digits that read back as the
// same double (9223372036854776000.0 is 2^63).
const Row k_rows[] = {
  // number                       int8     int16    int32          int64                   uint8    uint16   uint32         uint64                  float                       double
  {"0",                         {"=0",    "=0",    "=0",          "=0",                   "=0",    "=0",    "=0",          "=0",                   "=0.0",                     "=0.0"}},
  {"-0",                        {"=0",    "=0",    "=0",          "=0",                   "=0",    "=0",    "=0",          "=0",                   "=-0.0",                    "=-0.0"}},
  {"-0.0",                      {"=0",    "=0",    "=0",          "=0",                   "=0",    "=0",    "=0",          "=0",                   "=-0.0",                    "=-0.0"}},
  {"1.5",                       {"int",   "int",   "int",         "int",                  "int",   "int",   "int",         "int",                  "=1.5",                     "=1.5"}},
  {"2.0",                       {"=2",    "=2",    "=2",          "=2",                   "=2",    "=2",    "=2",          "=2",                   "=2.0",                     "=2.0"}},
  {"1.5e1",                     {"=15",   "=15",   "=15",         "=15",                  "=15",   "=15",   "=15",         "=15",                  "=15.0",                    "=15.0"}},
  {"-1",                        {"=-1",   "=-1",   "=-1",         "=-1",                  "range", "range", "range",       "range",                "=-1.0",                    "=-1.0"}},
  {"2147483648",                {"range", "range", "range",       "=2147483648",          "range", "range", "=2147483648", "=2147483648",          "=2147483648.0",            "=2147483648.0"}},
  {"-2147483649",               {"range", "range", "range",       "=-2147483649",         "range", "range", "range",       "range",                "~-2147483648",             "=-2147483649.0"}},
  {"3e9",                       {"range", "range", "range",       "=3000000000",          "range", "range", "=3000000000", "=3000000000",          "=3000000000.0",            "=3000000000.0"}},
  {"16777217",                  {"range", "range", "=16777217",   "=16777217",            "range", "range", "=16777217",   "=16777217",            "~16777216",                "=16777217.0"}},
  {"9007199254740993",          {"range", "range", "range",       "=9007199254740993",    "range", "range", "range",       "=9007199254740993",    "~9007199254740992",        "~9007199254740992"}},
  {"9223372036854775807",       {"range", "range", "range",       "=9223372036854775807", "range", "range", "range",       "=9223372036854775807", "~9223372036854775808",     "~9223372036854775808"}},
  {"9223372036854775808",       {"range", "range", "range",       "range",                "range", "range", "range",       "=9223372036854775808", "=9223372036854776000.0",   "=9223372036854776000.0"}},
  {"-9223372036854775808",      {"range", "range", "range",       "=-9223372036854775808","range", "range", "range",       "range",                "=-9223372036854776000.0",  "=-9223372036854776000.0"}},
  {"-9223372036854775809",      {"range", "range", "range",       "range",                "range", "range", "range",       "range",                "~-9223372036854775808",    "~-9223372036854775808"}},
  {"18446744073709551615",      {"range", "range", "range",       "range",                "range", "range", "range",       "=18446744073709551615","~18446744073709551616",    "~18446744073709551616"}},
  {"18446744073709551616",      {"range", "range", "range",       "range",                "range", "range", "range",       "range",                "=18446744073709553000.0",  "=18446744073709553000.0"}},
  {"1267650600228229401496703205376", // 2^100: every floating type holds it
                                {"range", "range", "range",       "range",                "range", "range", "range",       "range",                "=1.2676506002282295e30",   "=1.2676506002282295e30"}},
  {"1267650600228229401496703205377", // 2^100 + 1
                                {"range", "range", "range",       "range",                "range", "range", "range",       "range",                "~1267650600228229401496703205376", "~1267650600228229401496703205376"}},
  {"1e308",                     {"range", "range", "range",       "range",                "range", "range", "range",       "range",                "big",                      "=1e308"}},
  {"1e400",                     {"range", "range", "range",       "range",                "range", "range", "range",       "range",                "big",                      "big"}},
  {"-1e400",                    {"range", "range", "range",       "range",                "range", "range", "range",       "range",                "big",                      "big"}},
  {"1e99999999999999999999",    {"range", "range", "range",       "range",                "range", "range", "range",       "range",                "big",                      "big"}},
  {"1e-400",                    {"int",   "int",   "int",         "int",                  "int",   "int",   "int",         "int",                  "small",                    "small"}},
  {"-1e-400",                   {"int",   "int",   "int",         "int",                  "int",   "int",   "int",         "int",                  "small",                    "small"}},
  {"1e-50",                     {"int",   "int",   "int",         "int",                  "int",   "int",   "int",         "int",                  "small",                    "=1e-50"}},
  {"0e400",                     {"=0",    "=0",    "=0",          "=0",                   "=0",    "=0",    "=0",          "=0",                   "=0.0",                     "=0.0"}},
  {"1e2",                       {"=100",  "=100",  "=100",        "=100",                 "=100",  "=100",  "=100",        "=100",                 "=100.0",                   "=100.0"}},
  {"128",                       {"range", "=128",  "=128",        "=128",                 "=128",  "=128",  "=128",        "=128",                 "=128.0",                   "=128.0"}},
  {"-129",                      {"range", "=-129", "=-129",       "=-129",                "range", "range", "range",       "range",                "=-129.0",                  "=-129.0"}},
  {"65536",                     {"range", "range", "=65536",      "=65536",               "range", "range", "=65536",      "=65536",               "=65536.0",                 "=65536.0"}},
  {k_400_digits, // how jsonb writes 1e400 back out
                                {"range", "range", "range",       "range",                "range", "range", "range",       "range",                "big",                      "big"}},
  {k_jsonb_1e_minus_400,        {"int",   "int",   "int",         "int",                  "int",   "int",   "int",         "int",                  "small",                    "small"}},
};
// clang-format on

template <class T> void check_column(const Row& row, std::size_t column) {
  std::string want = expected<T>(row.cells[column], row.number, k_type_names[column]);
  CHECK_MESSAGE(outcome_as<T>(row.number) == want,
                k_type_names[column] << " <- " << shown(row.number));
}

template <class... T, std::size_t... I> void check_row(const Row& row, std::index_sequence<I...>) {
  (check_column<T>(row, I), ...);
}

} // namespace

TEST_CASE(
    "every integer and floating-point parameter type takes every number exactly or not at all") {
  for (const Row& row : k_rows) {
    CAPTURE(row.number);
    check_row<std::int8_t,
              std::int16_t,
              std::int32_t,
              std::int64_t,
              std::uint8_t,
              std::uint16_t,
              std::uint32_t,
              std::uint64_t,
              float,
              double>(row, std::make_index_sequence<k_columns>{});
  }
}

TEST_CASE("a 60-digit integer fits no integer type, is inexact as double and beyond float") {
  CHECK(outcome_as<std::uint64_t>(k_60_digits) ==
        expected<std::uint64_t>("range", k_60_digits, "uint64_t"));
  const std::string as_double = outcome_as<double>(k_60_digits);
  CHECK(as_double.rfind(
            "number " + shown(k_60_digits) +
                " cannot be represented exactly as double (the nearest is 12345678901234567",
            0) == 0);
  CHECK(outcome_as<float>(k_60_digits) == expected<float>("big", k_60_digits, "float"));
}

TEST_CASE("numbers out of every range reach raw JSON parameters as written") {
  const auto as_json = [](const pgtq::Json& j) { return j; };
  const auto whole_args = [](pgtq::Args args) { return std::string(args.text()); };
  std::vector<std::string> numbers{k_60_digits};
  for (const Row& row : k_rows) {
    numbers.push_back(row.number);
  }
  for (const std::string& number : numbers) {
    CAPTURE(number);
    CHECK(outcome(as_json, "[" + number + "]") == "=" + number);
    // pgtq::Args: the args text byte for byte, spaces included.
    const std::string args = "[ " + number + " ,\t" + number + "]";
    CHECK(outcome(whole_args, args) == "=\"[ " + number + " ,\\t" + number + "]\"");
  }
  // Nested, and in object args, where the number's key is looked up by name.
  FakeHost host;
  REQUIRE(host.load([](pgtq::Registry& r) {
    r.add("raw", [](const pgtq::Json& j) { return j; }, {"n"});
  }) == 0);
  const Outcome nested =
      host.run("raw", R"({"n": {"a": [1e400, -0, 2.50, 18446744073709551616]}})");
  CHECK(nested.task.result == R"({"a":[1e400,-0,2.50,18446744073709551616]})");
}

TEST_CASE("the reported input: {\"n\": 1e400} reaches every kind of handler") {
  const std::string args = R"({"n": 1e400})";
  FakeHost host;
  REQUIRE(host.load([](pgtq::Registry& r) {
    r.add("as_double", [](double n) { return n; }, {"n"});
    r.add("as_int", [](std::int64_t n) { return n; }, {"n"});
    r.add("as_json", [](const pgtq::Json& n) { return n; }, {"n"});
    r.add("as_value", [](const rapidjson::Value& n) { return n.IsNumber(); }, {"n"});
    r.add("as_optional", [](std::optional<float> n) { return n.has_value(); }, {"n"});
    r.add("as_args", [](pgtq::Args a) { return std::string(a.text()); });
    r.add("as_string", [](const std::string& n) { return n; }, {"n"});
    r.add("ignores_it", [](std::optional<int> m) { return m.value_or(7); }, {"m"});
  }) == 0);
  const auto error = [&](const char* name) {
    const Outcome run = host.run(name, args);
    CHECK(run.status == PGTQ_FAIL);
    return run.task.error.value_or("");
  };
  CHECK(error("as_double") ==
        R"(as_double: argument 1 ("n"): number 1e400 is out of range for double)");
  CHECK(error("as_int") == R"(as_int: argument 1 ("n"): number 1e400 is out of range for int64_t )"
                           "[-9223372036854775808, 9223372036854775807]");
  CHECK(error("as_optional") ==
        R"(as_optional: argument 1 ("n"): number 1e400 is out of range for float)");
  CHECK(error("as_value") ==
        R"(as_value: argument 1 ("n"): number 1e400 cannot be held exactly by )"
        "rapidjson::Value; take pgtq::Json to receive numbers as written");
  CHECK(error("as_string") == R"(as_string: argument 1 ("n"): expected string, got number 1e400)");
  CHECK(host.run("as_json", args).task.result == "1e400");
  CHECK(host.run("as_args", args).task.result == R"("{\"n\": 1e400}")");
  CHECK(host.run("ignores_it", args).task.result == "7");
}

TEST_CASE("other parameter types name out-of-range numbers as written") {
  const std::string long_number = shown(k_400_digits);
  CHECK(outcome([](bool b) { return b; }, "[1e400]") == "expected boolean, got number 1e400");
  CHECK(outcome([](const std::string& s) { return s; }, "[" + k_400_digits + "]") ==
        "expected string, got number " + long_number);
  CHECK(outcome([](std::optional<std::int32_t> v) { return v.value_or(-1); }, "[3e9]") ==
        expected<std::int32_t>("range", "3e9", "int32_t"));
  CHECK(outcome([](std::optional<std::int32_t> v) { return v.value_or(-1); }, "[null]") == "=-1");
  CHECK(outcome([](std::optional<double> v) { return v.value_or(-1); }, "[-1e400]") ==
        "number -1e400 is out of range for double");
  CHECK(outcome([](const std::vector<std::uint8_t>& v) { return v.size(); }, "[[1, 256]]") ==
        "at [1]: " + expected<std::uint8_t>("range", "256", "uint8_t"));
  CHECK(outcome([](const std::map<std::string, std::int64_t>& m) { return m.size(); },
                R"([{"k": 18446744073709551616}])") ==
        R"(at ["k"]: )" + expected<std::int64_t>("range", "18446744073709551616", "int64_t"));
}

TEST_CASE("const rapidjson::Value& takes what RapidJSON holds exactly, and refuses the rest") {
  const auto echo = [](const rapidjson::Value& v) -> const rapidjson::Value& { return v; };
  CHECK(outcome(echo, "[[9007199254740993, 18446744073709551615, -9223372036854775808]]") ==
        "=[9007199254740993,18446744073709551615,-9223372036854775808]");
  CHECK(outcome(echo, "[18446744073709551616]") == "=18446744073709553000.0"); // 2^64, exact
  CHECK(outcome(echo, "[0.1]") == "=0.1");
  CHECK(outcome(echo, R"([{"a": [1, {"b": 1e-400}]}])") ==
        R"(at ["a"][1]["b"]: number 1e-400 cannot be held exactly by rapidjson::Value; take )"
        "pgtq::Json to receive numbers as written");
  CHECK(outcome(echo, "[[0, -9223372036854775809]]") ==
        "at [1]: number -9223372036854775809 cannot be held exactly by rapidjson::Value; take "
        "pgtq::Json to receive numbers as written");
  // A lossy number elsewhere in the args does not concern this argument.
  FakeHost host;
  REQUIRE(host.load([](pgtq::Registry& r) {
    r.add("h", [](const rapidjson::Value& v, const pgtq::Json&) { return v.GetInt(); });
  }) == 0);
  CHECK(host.run("h", "[5, 1e400]").task.result == "5");
}

TEST_CASE("pgtq::Args::json() holds numbers beyond double as infinity or zero") {
  const auto kinds = [](pgtq::Args args) {
    const rapidjson::Value& v = args.json();
    return std::vector<bool>{v[0].IsDouble() && v[0].GetDouble() > 1e308,
                             v[1].IsDouble() && v[1].GetDouble() < -1e308,
                             v[2].IsDouble() && v[2].GetDouble() == 0,
                             v[3].IsUint64(),
                             v[4].IsInt64()};
  };
  CHECK(outcome(kinds, "[1e400, -1e400, 1e-400, 18446744073709551615, -5]") ==
        "=[true,true,true,true,true]");
}

TEST_CASE("hundreds of decimals, as jsonb writes 1e-400, do not crash the args parser") {
  // RapidJSON 1.1's full-precision conversion reads out of bounds on such a number; pgtqd
  // crashed on every attempt of a task whose args held one.
  const std::string args = "[" + k_jsonb_1e_minus_400 + ", 0." + std::string(5000, '1') + "]";
  CHECK(outcome([](pgtq::Args a) { return a.text().size(); }, args) ==
        "=" + std::to_string(args.size()));
  CHECK(outcome([](double, double b) { return b; }, args) ==
        expected<double>("small", k_jsonb_1e_minus_400, "double"));
  CHECK(outcome([](const pgtq::Json&, double b) { return b; }, args) == "=0.1111111111111111");
}

TEST_CASE("numbers in strings, keys and malformed args are left to the JSON parser") {
  // Digits inside strings are not numbers, even escaped quotes around them.
  CHECK(outcome([](const std::string& s) { return s; }, R"(["1e400 \"2e400\" 3"])") ==
        R"(="1e400 \"2e400\" 3")");
  CHECK(outcome([](const std::map<std::string, double>& m) { return m; }, R"([{"1e400": 1.5}])") ==
        R"(={"1e400":1.5})");
  // A number RapidJSON would refuse does not hide a syntax error next to it.
  for (const char* broken :
       {"[1e400 1]", "[1e400,]", "[01e400]", "[1e400", "[-]", "[1.e400]", "[1e+]", "[1e400]]"}) {
    CAPTURE(broken);
    FakeHost host;
    REQUIRE(host.load([](pgtq::Registry& r) { r.add("h", [](pgtq::Args) {}); }) == 0);
    const Outcome run = host.run("h", broken);
    CHECK(run.status == PGTQ_FAIL);
    CHECK(run.task.error.value_or("").rfind("h: args are not valid JSON: ", 0) == 0);
  }
}

TEST_CASE("a deeply nested raw argument is copied without recursion") {
  constexpr std::size_t k_depth = 100000;
  const std::string nested = std::string(k_depth, '[') + "1e400" + std::string(k_depth, ']');
  FakeHost host;
  REQUIRE(host.load([](pgtq::Registry& r) {
    r.add("h", [](const pgtq::Json& j) { return j.text().size(); });
  }) == 0);
  CHECK(host.run("h", "[" + nested + "]").task.result == std::to_string(nested.size()));
}
