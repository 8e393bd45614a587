// call_plugin(): the one guard around every call pgtqd makes into plugin code.
#include "plugin/plugin_call.hpp"

#include <doctest/doctest.h>

#include <stdexcept>
#include <variant>

using pgtq::plugin::call_plugin;

TEST_CASE("call_plugin returns what the plugin function returned") {
  const auto value = call_plugin("p.so", "init()", [] { return 7; });
  REQUIRE(static_cast<bool>(value));
  CHECK(*value.value == 7);
  CHECK(value.escaped.empty());

  int calls = 0;
  const auto nothing = call_plugin("p.so", "fini()", [&] { ++calls; });
  CHECK(static_cast<bool>(nothing));
  CHECK(calls == 1);
}

TEST_CASE("call_plugin turns an exception that escapes plugin code into a failed call that "
          "says what escaped") {
  SUBCASE("a std::exception") {
    const auto result =
        call_plugin("p.so", "init()", []() -> int { throw std::runtime_error("init trouble"); });
    CHECK_FALSE(static_cast<bool>(result));
    CHECK(result.escaped == "init() let an exception escape: init trouble");
  }
  SUBCASE("anything else") {
    const auto result = call_plugin("p.so", "fini()", [] { throw 42; });
    CHECK_FALSE(static_cast<bool>(result));
    CHECK(result.escaped ==
          "fini() let an exception escape: an exception not derived from std::exception");
  }
}
