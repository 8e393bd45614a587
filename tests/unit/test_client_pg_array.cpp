#include "pgtq/client.hpp"

#include <doctest/doctest.h>

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

using pgtq::detail::pg_integer_array;
using pgtq::detail::pg_text_array;

TEST_CASE("text array literals quote every element") {
  CHECK(pg_text_array({}) == "{}");
  CHECK(pg_text_array({"add_numbers"}) == R"({"add_numbers"})");
  CHECK(pg_text_array({"a", "b"}) == R"({"a","b"})");
}

TEST_CASE("text array literals keep what the array parser would otherwise take apart") {
  CHECK(pg_text_array({""}) == R"({""})");
  CHECK(pg_text_array({"NULL"}) == R"({"NULL"})");
  CHECK(pg_text_array({"a,b", "{x}", " padded "}) == R"({"a,b","{x}"," padded "})");
  CHECK(pg_text_array({"say \"hi\""}) == R"({"say \"hi\""})");
  CHECK(pg_text_array({R"(C:\dir\)"}) == R"({"C:\\dir\\"})");
  CHECK(pg_text_array({"line\nbreak\ttab"}) == "{\"line\nbreak\ttab\"}");
  CHECK(pg_text_array({"grüße", "日本"}) == "{\"grüße\",\"日本\"}");
}

TEST_CASE("a NUL byte cannot travel in a text parameter and is refused") {
  CHECK_THROWS_WITH_AS(
      pg_text_array({"ok", std::string("a\0b", 3)}), doctest::Contains("element 2"), pgtq::Error);
}

TEST_CASE("integer array literals") {
  CHECK(pg_integer_array(std::vector<std::int64_t>{}) == "{}");
  CHECK(pg_integer_array(std::vector<std::int64_t>{1, 2, 3}) == "{1,2,3}");
  CHECK(pg_integer_array(std::vector<int>{-1, std::numeric_limits<int>::max()}) ==
        "{-1,2147483647}");
  CHECK(pg_integer_array(std::vector<std::int64_t>{std::numeric_limits<std::int64_t>::min()}) ==
        "{-9223372036854775808}");
}
