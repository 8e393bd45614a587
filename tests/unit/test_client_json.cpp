#include "pgtq/client.hpp"

#include <doctest/doctest.h>

#include <array>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

using namespace std::string_literals;

namespace {

std::string encoded(const auto& value) {
  return pgtq::to_json(value).text();
}

bool valid(std::string_view text) {
  return pgtq::detail::is_json_value(text);
}

} // namespace

TEST_CASE("args encodes each C++ value as one JSON array element") {
  CHECK(pgtq::args().text() == "[]");
  CHECK(pgtq::args(2, 3).text() == "[2,3]");
  CHECK(pgtq::args(true, false, nullptr).text() == "[true,false,null]");
  CHECK(pgtq::args("a", "b"s, std::string_view("c")).text() == R"(["a","b","c"])");
}

TEST_CASE("integers keep their full range") {
  CHECK(encoded(std::numeric_limits<std::int64_t>::min()) == "-9223372036854775808");
  CHECK(encoded(std::numeric_limits<std::uint64_t>::max()) == "18446744073709551615");
  CHECK(encoded(static_cast<std::int8_t>(-5)) == "-5");
  CHECK(encoded(static_cast<std::uint8_t>(200)) == "200");
  CHECK(encoded(static_cast<short>(-7)) == "-7");
}

TEST_CASE("floating point is the shortest text that reads back the same") {
  CHECK(encoded(0.1) == "0.1");
  CHECK(encoded(0.1F) == "0.1");
  CHECK(encoded(1.5) == "1.5");
  CHECK(encoded(-0.0) == "-0");
  CHECK(encoded(1e300) == "1e+300");
  CHECK(encoded(5e-324) == "5e-324");
  CHECK(valid(encoded(1e300)));
  CHECK(valid(encoded(-2.5e-10)));
}

TEST_CASE("NaN and infinity are refused because JSON cannot hold them") {
  SUBCASE("NaN") {
    CHECK_THROWS_WITH_AS(pgtq::to_json(std::numeric_limits<double>::quiet_NaN()),
                         doctest::Contains("NaN"),
                         pgtq::Error);
  }
  SUBCASE("infinity") {
    CHECK_THROWS_WITH_AS(pgtq::args(1, -std::numeric_limits<double>::infinity()),
                         doctest::Contains("infinite"),
                         pgtq::Error);
  }
  SUBCASE("nested in a container, float") {
    const std::vector<float> values{1.0F, std::numeric_limits<float>::infinity()};
    CHECK_THROWS_AS(pgtq::to_json(values), pgtq::Error);
  }
  SUBCASE("the SQLSTATE is invalid_parameter_value") {
    try {
      pgtq::to_json(std::numeric_limits<double>::quiet_NaN());
      FAIL("no exception");
    } catch (const pgtq::Error& error) {
      CHECK(error.sqlstate() == "22023");
    }
  }
}

TEST_CASE("strings escape quotes, backslashes and every control character") {
  CHECK(encoded("plain") == R"("plain")");
  CHECK(encoded("say \"hi\"") == R"("say \"hi\"")");
  CHECK(encoded("C:\\dir") == R"("C:\\dir")");
  CHECK(encoded("a/b") == R"("a/b")");
  CHECK(encoded("\b\f\n\r\t") == R"("\b\f\n\r\t")");
  CHECK(encoded("\x01\x1f") == R"("\u0001\u001f")");
  CHECK(encoded("\x7f") == "\"\x7f\"");
  CHECK(encoded(std::string("a\0b", 3)) == R"("a\u0000b")");
  CHECK(encoded(std::string()) == R"("")");
  for (int c = 0; c < 0x20; ++c) {
    const std::string one(1, static_cast<char>(c));
    CAPTURE(c);
    CHECK(valid(encoded(one)));
  }
}

TEST_CASE("valid UTF-8 passes through unescaped") {
  CHECK(encoded("grüße") == "\"grüße\"");
  CHECK(encoded("日本語") == "\"日本語\"");
  CHECK(encoded("\xF0\x9F\x98\x80") == "\"\xF0\x9F\x98\x80\""); // U+1F600, 4 bytes
  CHECK(encoded("\xE2\x80\xA8") == "\"\xE2\x80\xA8\"");         // U+2028 is valid JSON
  CHECK(encoded("\xF4\x8F\xBF\xBF") == "\"\xF4\x8F\xBF\xBF\""); // U+10FFFF, the last one
}

TEST_CASE("invalid UTF-8 is refused instead of being sent for the server to reject") {
  const char* const bad[] = {
      "\x80",             // continuation byte first
      "\xC3",             // truncated
      "\xC0\xAF",         // overlong '/'
      "\xE0\x80\xAF",     // overlong, 3 bytes
      "\xED\xA0\x80",     // UTF-16 surrogate U+D800
      "\xF4\x90\x80\x80", // above U+10FFFF
      "\xFF",
      "ok\xE2\x82", // truncated at the end
  };
  for (const char* text : bad) {
    CAPTURE(std::string_view(text));
    CHECK_THROWS_WITH_AS(pgtq::to_json(text), doctest::Contains("UTF-8"), pgtq::Error);
  }
}

TEST_CASE("a null const char* is null, not a crash") {
  const char* nothing = nullptr;
  CHECK(encoded(nothing) == "null");
}

TEST_CASE("containers nest") {
  SUBCASE("vector and array") {
    CHECK(encoded(std::vector<int>{}) == "[]");
    CHECK(encoded(std::vector<int>{1, 2, 3}) == "[1,2,3]");
    CHECK(encoded(std::array<std::string, 2>{"x", "y"}) == R"(["x","y"])");
    CHECK(encoded(std::vector<bool>{true, false}) == "[true,false]");
    CHECK(encoded(std::vector<std::vector<int>>{{1}, {}, {2, 3}}) == "[[1],[],[2,3]]");
  }
  SUBCASE("optional") {
    CHECK(encoded(std::optional<int>()) == "null");
    CHECK(encoded(std::optional<int>(4)) == "4");
    CHECK(encoded(std::vector<std::optional<std::string>>{"a", std::nullopt}) == R"(["a",null])");
  }
  SUBCASE("map with string keys, keys escaped too") {
    CHECK(encoded(std::map<std::string, int>{}) == "{}");
    const std::map<std::string, std::vector<double>> nested{{"a\"b", {1.5}}, {"z", {}}};
    CHECK(encoded(nested) == R"({"a\"b":[1.5],"z":[]})");
    const std::map<std::string, std::map<std::string, bool>> deep{{"outer", {{"inner", true}}}};
    CHECK(encoded(deep) == R"({"outer":{"inner":true}})");
  }
  SUBCASE("every encoding is valid JSON") {
    const std::map<std::string, std::vector<std::optional<double>>> mixed{
        {"k\n", {1.5, std::nullopt}}, {"ü", {-0.25}}};
    CHECK(valid(encoded(mixed)));
  }
}

TEST_CASE("pgtq::json is inserted as is, not quoted again") {
  CHECK(pgtq::args(pgtq::json(R"({"a":[1,2]})"), 3).text() == R"([{"a":[1,2]},3])");
  const std::map<std::string, pgtq::JsonText> fields{{"raw", pgtq::json("[true]")}};
  CHECK(encoded(fields) == R"({"raw":[true]})");
  CHECK(pgtq::to_json(pgtq::json("7")).text() == "7");
}

TEST_CASE("pgtq::json accepts exactly one JSON value") {
  for (const char* good : {"null",
                           "true",
                           "false",
                           "0",
                           "-0",
                           "12.5e-3",
                           "1E+2",
                           "\"\"",
                           R"("\u00e9\n\/")",
                           "[]",
                           "{}",
                           " [ 1 , [ ] , { } ] ",
                           "\n{\"a\":{\"b\":[null]}}\t",
                           R"({"a":1,"b":"x"})",
                           "\"日本\""}) {
    CAPTURE(std::string_view(good));
    CHECK_NOTHROW(pgtq::json(good));
  }
  for (const char* bad : {"",
                          " ",
                          "[",
                          "]",
                          "{",
                          "[1,]",
                          "[,1]",
                          "{\"a\"}",
                          "{\"a\":}",
                          "{a:1}",
                          "{\"a\":1,}",
                          "[1 2]",
                          "01",
                          "1.",
                          ".5",
                          "-",
                          "1e",
                          "+1",
                          "tru",
                          "nul",
                          "True",
                          "'x'",
                          "\"unterminated",
                          "\"tab\there\"",
                          R"("\x")",
                          R"("\u12")",
                          "[1]]",
                          "{}{}",
                          "1 2",
                          "NaN",
                          "Infinity",
                          "[1]x",
                          "\"\xC0\xAF\"",
                          R"([1]},{"task":"evil")"}) {
    CAPTURE(std::string_view(bad));
    CHECK_THROWS_AS(pgtq::json(bad), pgtq::Error);
  }
}

TEST_CASE("deep nesting is checked without recursion") {
  const std::string deep = std::string(100000, '[') + std::string(100000, ']');
  CHECK(valid(deep));
  CHECK_FALSE(valid(deep.substr(1)));
}

TEST_CASE("a bad raw JSON reports where and with SQLSTATE 22P02") {
  try {
    pgtq::json("[1,,2]");
    FAIL("no exception");
  } catch (const pgtq::Error& error) {
    CHECK(error.sqlstate() == "22P02");
    CHECK(std::string(error.what()).find("byte 3") != std::string::npos);
  }
}
