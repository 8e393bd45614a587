// A plugin may push follow-up tasks, so plugin.hpp and client.hpp must live in one
// translation unit, and plugin.hpp's Json must be usable as a task argument.
#include <pgtq/client.hpp>
#include <pgtq/plugin.hpp>

#include <doctest/doctest.h>

#include <string>

// A single plugin Json is the args document, like a single JsonText.
static_assert(pgtq::detail::IsRawArgsCall<pgtq::Json>::value);
static_assert(pgtq::detail::IsRawArgsCall<pgtq::Json, pgtq::PushOptions>::value);
static_assert(!pgtq::detail::IsRawArgsCall<pgtq::Json, int>::value);

TEST_CASE("client.hpp and plugin.hpp compile together") {
  CHECK(pgtq::args(pgtq::Json(R"({"a":1})"), 2).text() == R"([{"a":1},2])");
  CHECK(pgtq::to_json(pgtq::Json()).text() == "null");
  CHECK_THROWS_AS(pgtq::args(pgtq::Json("{broken")), pgtq::Error);
  CHECK(pgtq::json("[1]").text() == "[1]");
}
