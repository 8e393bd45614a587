// Which push() a call resolves to is decided at compile time; these checks pin the rule
// documented in client/push.hpp.
#include "pgtq/client.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <string>
#include <string_view>

namespace {

using pgtq::PushOptions;
using pgtq::detail::IsRawArgsCall;

// A single text or JsonText argument, with or without options, is the args document.
static_assert(IsRawArgsCall<char[8]>::value);
static_assert(IsRawArgsCall<const char*>::value);
static_assert(IsRawArgsCall<std::string>::value);
static_assert(IsRawArgsCall<std::string_view>::value);
static_assert(IsRawArgsCall<pgtq::JsonText>::value);
static_assert(IsRawArgsCall<std::string, PushOptions>::value);
static_assert(IsRawArgsCall<pgtq::JsonText, PushOptions>::value);

// Everything else is typed: each argument becomes one array element.
static_assert(!IsRawArgsCall<int>::value);
static_assert(!IsRawArgsCall<int, int>::value);
static_assert(!IsRawArgsCall<std::string, std::string>::value);
static_assert(!IsRawArgsCall<std::nullptr_t>::value);
static_assert(!IsRawArgsCall<double, PushOptions>::value);

} // namespace

TEST_CASE("a time_point run_at is sent as UTC with microseconds") {
  using namespace std::chrono;
  CHECK(pgtq::Timestamp(system_clock::time_point{}).text() == "1970-01-01 00:00:00.000000+00");
  // 2024-02-29 12:34:56.789012 UTC: a leap day.
  const system_clock::time_point leap{microseconds(1709210096789012)};
  CHECK(pgtq::Timestamp(leap).text() == "2024-02-29 12:34:56.789012+00");
  // Before the epoch the day must round down, not toward zero.
  const system_clock::time_point before{microseconds(-1)};
  CHECK(pgtq::Timestamp(before).text() == "1969-12-31 23:59:59.999999+00");
  const time_point<system_clock, seconds> coarse{seconds(951782400)};
  CHECK(pgtq::Timestamp(coarse).text() == "2000-02-29 00:00:00.000000+00");
}

TEST_CASE("text run_at is passed through for the server to read") {
  CHECK(pgtq::Timestamp("2030-01-01 09:00:00+02").text() == "2030-01-01 09:00:00+02");
  const PushOptions options{.run_at = "tomorrow", .delay = std::chrono::minutes(1)};
  CHECK(options.run_at->text() == "tomorrow");
  CHECK(pgtq::detail::interval_text(*options.delay) == "60000000 microseconds");
}
