// Which push() a call resolves to is decided at compile time; these checks pin the rule
// documented in client/push.hpp.
#include "pgtq/client.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <cmath>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace {

using pgtq::PushOptions;
using pgtq::detail::IsRawArgsCall;

// Only an explicit document, with or without options, is the args document itself.
static_assert(IsRawArgsCall<pgtq::JsonText>::value);
static_assert(IsRawArgsCall<pgtq::JsonText, PushOptions>::value);

// Everything else is typed: each argument becomes one array element, a lone string too.
static_assert(!IsRawArgsCall<char[8]>::value);
static_assert(!IsRawArgsCall<const char*>::value);
static_assert(!IsRawArgsCall<std::string>::value);
static_assert(!IsRawArgsCall<std::string_view>::value);
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
  CHECK(pgtq::detail::interval_text(*options.delay->microseconds()) == "60000000 microseconds");
}

namespace {

// What push() refuses before sending: the SQLSTATE and message of the pgtq::Error. With a
// null connection, anything that gets past the checks fails as 08003 instead.
std::string refused(const std::function<void()>& push) {
  try {
    push();
  } catch (const pgtq::Error& error) {
    return error.sqlstate() + " " + error.what();
  }
  return "accepted";
}

} // namespace

TEST_CASE("a delay outside 0 to 100 years is refused before anything is sent") {
  using namespace std::chrono;
  const auto push_delay = [](PushOptions options) {
    return refused([&] { pgtq::push(nullptr, "q", "t", options); });
  };
  const microseconds max{3155760000LL * 1000000};
  CHECK(push_delay({.delay = -microseconds(1)}) ==
        "22023 pgtq.push: delay must not be negative, got -0.000001 s");
  CHECK(push_delay({.delay = max + microseconds(1)}) ==
        "22023 pgtq.push: delay must be at most 100 years (3155760000 s), got 3155760000.000001 s");
  CHECK(push_delay({.delay = hours::max()}) ==
        "22023 pgtq.push: delay must be at most 100 years (3155760000 s), got 3.32041e+22 s");
  CHECK(push_delay({.delay = duration<double>(std::nan(""))}) == "22023 pgtq.push: delay is NaN");
  CHECK(push_delay({.delay = duration<double>(HUGE_VAL)}) ==
        "22023 pgtq.push: delay must be at most 100 years (3155760000 s), got inf s");
  CHECK(push_delay({.delay = duration<double>(-HUGE_VAL)}) ==
        "22023 pgtq.push: delay must not be negative, got -inf s");
  // In range: refused only for want of a connection.
  CHECK(push_delay({.delay = max}).rfind("08003 ", 0) == 0);
  CHECK(push_delay({.delay = microseconds(0)}).rfind("08003 ", 0) == 0);
  CHECK(push_delay({.delay = duration<double>(1.5)}).rfind("08003 ", 0) == 0);
  CHECK(pgtq::Delay(duration<double>(1.5)).microseconds() == microseconds(1500000));
}

TEST_CASE("a time_point run_at more than 100 years from now is refused before anything is sent") {
  using namespace std::chrono;
  const auto push_at = [](PushOptions options) {
    return refused([&] { pgtq::push(nullptr, "q", "t", options); });
  };
  const auto now = system_clock::now();
  const hours year{8766}; // 365.25 days
  const std::string far = push_at({.run_at = now + 101 * year});
  CHECK(far.rfind("22023 pgtq.push: run_at ", 0) == 0);
  CHECK(far.find(" is more than 100 years from now") != std::string::npos);
  CHECK(push_at({.run_at = now - 101 * year}).rfind("22023 ", 0) == 0);
  CHECK(push_at({.run_at = time_point<system_clock, hours>(hours::max())}) ==
        "22023 pgtq.push: run_at (a time beyond any calendar) is more than 100 years from now");
  CHECK(push_at(
            {.run_at = time_point<system_clock, duration<double>>(duration<double>(std::nan("")))})
            .rfind("22023 ", 0) == 0);
  const std::string sum = push_at({.run_at = now + 99 * year, .delay = 2 * year});
  CHECK(sum.find(" plus delay 63115200 s is more than 100 years from now") != std::string::npos);
  // Within range, and text (checked by the server): refused only for want of a connection.
  CHECK(push_at({.run_at = now + 99 * year}).rfind("08003 ", 0) == 0);
  CHECK(push_at({.run_at = now - 99 * year}).rfind("08003 ", 0) == 0);
  CHECK(push_at({.run_at = "infinity"}).rfind("08003 ", 0) == 0);
}

TEST_CASE("push_many and PreparedPusher check options the same way, naming the task") {
  using namespace std::chrono;
  const std::vector<pgtq::TaskSpec> tasks{{"a"}, {"b", pgtq::args(1), {.delay = -seconds(5)}}};
  CHECK(refused([&] { pgtq::push_many(nullptr, "q", tasks); }) ==
        "22023 pgtq.push_many: task 2: delay must not be negative, got -5 s");
  pgtq::PreparedPusher pusher(nullptr);
  CHECK(refused([&] { pusher.push("q", "t", {.delay = hours(24 * 365 * 101)}); }) ==
        "22023 pgtq.push: delay must be at most 100 years (3155760000 s), got 3185136000 s");
}

TEST_CASE("a lone string is one string argument, and JSON text must say so") {
  CHECK(pgtq::args("hello world").text() == R"(["hello world"])");
  CHECK(pgtq::args(std::string(R"({"user_id":1})")).text() == R"(["{\"user_id\":1}"])");
  // The raw forms are the explicit ones.
  CHECK(pgtq::json(R"({"user_id":1})").text() == R"({"user_id":1})");
  CHECK_THROWS_AS(pgtq::json("hello world"), pgtq::Error);
}
