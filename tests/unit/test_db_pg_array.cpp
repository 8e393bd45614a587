#include "db/pg_array.hpp"

#include <doctest/doctest.h>

using pgtq::db::array_literal;

TEST_CASE("array literals for bigint, integer and text parameters") {
  CHECK(array_literal(std::vector<std::int64_t>{}) == "{}");
  CHECK(array_literal(std::vector<std::int64_t>{1, -2, 9007199254740993}) ==
        "{1,-2,9007199254740993}");
  CHECK(array_literal(std::vector<std::int32_t>{7}) == "{7}");
  CHECK(array_literal(std::vector<std::string>{"a", "b.c:d-e"}) == R"({"a","b.c:d-e"})");
  // Quotes, backslashes, commas, braces and spaces survive as one element each.
  CHECK(array_literal(std::vector<std::string>{R"(x"y)", R"(a\b)", "c,d", "{e}", " f "}) ==
        R"({"x\"y","a\\b","c,d","{e}"," f "})");
  CHECK(array_literal(std::vector<std::string>{"NULL", ""}) == R"({"NULL",""})");
}
