// plugin.hpp: return values -> JSON results, exceptions -> statuses, Context, and the
// exception barrier.
#include "test_plugin_fake_host.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

using pgtq::test::FakeHost;
using pgtq::test::FakeTask;
using pgtq::test::Outcome;

namespace {

template <class F> Outcome run_one(F fn, std::string args = "[]", FakeTask task = {}) {
  FakeHost host;
  REQUIRE(host.load([&](pgtq::Registry& r) { r.add("h", fn); }) == 0);
  return host.run("h", std::move(args), std::move(task));
}

std::string result_of(const Outcome& outcome) {
  REQUIRE_MESSAGE(outcome.status == PGTQ_DONE, outcome.task.error.value_or(""));
  return outcome.task.result.value_or("(no result)");
}

} // namespace

TEST_CASE("plugin.hpp encodes return values as JSON") {
  SUBCASE("void leaves the result unset (JSON null)") {
    const Outcome outcome = run_one([] {});
    CHECK(outcome.status == PGTQ_DONE);
    CHECK_FALSE(outcome.task.result.has_value());
    CHECK_FALSE(outcome.task.error.has_value());
  }
  SUBCASE("scalars") {
    CHECK(result_of(run_one([] { return true; })) == "true");
    CHECK(result_of(run_one([] { return std::numeric_limits<std::int64_t>::min(); })) ==
          "-9223372036854775808");
    CHECK(result_of(run_one([] { return std::numeric_limits<std::uint64_t>::max(); })) ==
          "18446744073709551615");
    CHECK(result_of(run_one([] { return 0.1; })) == "0.1");
    CHECK(result_of(run_one([] { return 2.0F; })) == "2.0");
    CHECK(result_of(run_one([] { return nullptr; })) == "null");
    CHECK(result_of(run_one([]() -> const char* { return "lit"; })) == R"("lit")");
    CHECK(result_of(run_one([]() -> const char* { return nullptr; })) == "null");
  }
  SUBCASE("strings are escaped") {
    CHECK(result_of(run_one([] { return std::string("say \"hi\"\\"); })) == R"("say \"hi\"\\")");
    CHECK(result_of(run_one([] { return std::string("tab\tnl\n\x01"); })) ==
          R"("tab\tnl\n\u0001")");
    CHECK(result_of(run_one([] {
            return std::string("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
          })) == "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"");
    CHECK(result_of(run_one([] { return std::string("a\0b", 3); })) == R"("a\u0000b")");
  }
  SUBCASE("containers") {
    CHECK(result_of(run_one([] { return std::vector<int>{1, 2}; })) == "[1,2]");
    CHECK(result_of(run_one([] { return std::vector<bool>{true, false}; })) == "[true,false]");
    CHECK(result_of(run_one([] { return std::optional<int>(); })) == "null");
    CHECK(result_of(run_one([] { return std::optional<std::string>("x"); })) == R"("x")");
    CHECK(result_of(run_one([] {
            return std::map<std::string, std::vector<std::optional<double>>>{
                {"k\"", {1.5, std::nullopt}}};
          })) == R"({"k\"":[1.5,null]})");
  }
  SUBCASE("raw JSON") {
    CHECK(result_of(run_one([] {
            return pgtq::Json(R"( {"a" : [1, 2.50, "x", 123456789012345678901234567890]} )");
          })) == R"({"a":[1,2.50,"x",123456789012345678901234567890]})");
    CHECK(result_of(run_one([] { return pgtq::Json(); })) == "null");
    CHECK(result_of(run_one([] {
            return std::vector<pgtq::Json>{pgtq::Json("1"), pgtq::Json("{}")};
          })) == "[1,{}]");
    CHECK(result_of(run_one([] {
            rapidjson::Document doc;
            doc.SetObject();
            doc.AddMember("n", 3, doc.GetAllocator());
            return doc;
          })) == R"({"n":3})");
    CHECK(result_of(run_one([](const rapidjson::Value& v) -> const rapidjson::Value& { return v; },
                            R"([["echo"]])")) == R"(["echo"])");
  }
  SUBCASE("raw JSON numbers of any size are kept as written") {
    CHECK(result_of(run_one([] {
            return pgtq::Json("[1e400, -1e-400, 1" + std::string(400, '0') + "]");
          })) == "[1e400,-1e-400,1" + std::string(400, '0') + "]");
    CHECK(run_one([] { return pgtq::Json("[1e400 1]"); }).status == PGTQ_FAIL);
  }
  SUBCASE("NaN and infinity, at any depth, fail permanently without a result") {
    const double inf = std::numeric_limits<double>::infinity();
    const std::vector<Outcome> outcomes = {
        run_one([] { return std::nan(""); }),
        run_one([=] { return inf; }),
        run_one([=] { return -inf; }),
        run_one([=] { return static_cast<float>(inf); }),
        run_one([=] {
          return std::vector<double>{1, inf};
        }),
        run_one([=] {
          return std::map<std::string, std::optional<double>>{{"k", std::nan("")}};
        }),
    };
    for (const Outcome& outcome : outcomes) {
      CHECK(outcome.status == PGTQ_FAIL);
      CHECK(outcome.task.error == "result: NaN and infinity cannot be represented in JSON");
      CHECK_FALSE(outcome.task.result.has_value());
    }
    const Outcome value = run_one([=] {
      rapidjson::Document doc;
      doc.SetArray();
      doc.PushBack(rapidjson::Value(inf), doc.GetAllocator());
      return doc;
    });
    CHECK(value.status == PGTQ_FAIL);
    CHECK(value.task.error == "result: rapidjson value holds invalid UTF-8 or a non-finite number");
  }
  SUBCASE("values JSON cannot hold fail permanently") {
    const Outcome nan = run_one([] { return std::nan(""); });
    CHECK(nan.status == PGTQ_FAIL);
    CHECK(nan.task.error == "result: NaN and infinity cannot be represented in JSON");
    const Outcome utf8 = run_one([] { return std::string("\xff"); });
    CHECK(utf8.status == PGTQ_FAIL);
    CHECK(utf8.task.error == "result: string is not valid UTF-8");
    const Outcome raw = run_one([] { return pgtq::Json("{oops"); });
    CHECK(raw.status == PGTQ_FAIL);
    CHECK(raw.task.error == "result: pgtq::Json holds invalid JSON");
    CHECK(run_one([] { return pgtq::Json("1 2"); }).status == PGTQ_FAIL);
    CHECK_FALSE(raw.task.result.has_value());
  }
}

TEST_CASE("plugin.hpp maps exceptions to statuses") {
  SUBCASE("pgtq::Retry without and with a delay") {
    const Outcome plain = run_one([] { throw pgtq::Retry("later"); });
    CHECK(plain.status == PGTQ_RETRY);
    CHECK(plain.task.error == "later");
    CHECK_FALSE(plain.task.retry_delay.has_value());

    const Outcome delayed = run_one([] { throw pgtq::Retry{"in a bit", 7.5}; });
    CHECK(delayed.status == PGTQ_RETRY);
    CHECK(delayed.task.error == "in a bit");
    CHECK(delayed.task.retry_delay == 7.5);
  }
  SUBCASE("pgtq::PermanentError") {
    const Outcome outcome = run_one([] { throw pgtq::PermanentError("bad input"); });
    CHECK(outcome.status == PGTQ_FAIL);
    CHECK(outcome.task.error == "bad input");
  }
  SUBCASE("pgtq::Snooze") {
    const Outcome outcome = run_one([] { throw pgtq::Snooze{30}; });
    CHECK(outcome.status == PGTQ_SNOOZE);
    CHECK(outcome.task.retry_delay == 30);
    CHECK(std::string(pgtq::Snooze(2.5).what()) == "snoozed for 2.5 s");
  }
  SUBCASE("other std::exception: retry with what()") {
    const Outcome outcome = run_one([] { throw std::runtime_error("boom"); });
    CHECK(outcome.status == PGTQ_RETRY);
    CHECK(outcome.task.error == "boom");
    const Outcome bad_alloc = run_one([] { throw std::bad_alloc(); });
    CHECK(bad_alloc.status == PGTQ_RETRY);
    CHECK(bad_alloc.task.error == "std::bad_alloc");
  }
  SUBCASE("anything else: retry, unknown exception") {
    const Outcome outcome = run_one([] { throw 42; });
    CHECK(outcome.status == PGTQ_RETRY);
    CHECK(outcome.task.error->rfind("unknown exception", 0) == 0);
  }
  SUBCASE("a result already set is kept only on success") {
    const Outcome outcome = run_one([]() -> int { throw pgtq::Retry("no"); });
    CHECK_FALSE(outcome.task.result.has_value());
  }
}

TEST_CASE("plugin.hpp gives handlers a Context") {
  FakeTask task;
  task.id = 12345;
  task.attempt = 3;
  task.stop = true;
  const Outcome outcome = run_one(
      [](pgtq::Context& ctx, int x) {
        ctx.info("hello from " + std::string(ctx.name()));
        ctx.set_retry_delay(1.5);
        return std::map<std::string, std::string>{{"id", std::to_string(ctx.id())},
                                                  {"attempt", std::to_string(ctx.attempt())},
                                                  {"name", std::string(ctx.name())},
                                                  {"args", std::string(ctx.args())},
                                                  {"stop", ctx.should_stop() ? "yes" : "no"},
                                                  {"x", std::to_string(x)}};
      },
      "[4]",
      task);
  CHECK(result_of(outcome) ==
        R"({"args":"[4]","attempt":"3","id":"12345","name":"h","stop":"yes","x":"4"})");
  CHECK(outcome.task.retry_delay == 1.5);

  SUBCASE("const Context& works too, and logs reach the host") {
    FakeHost host;
    REQUIRE(host.load([](pgtq::Registry& r) {
      r.add("logs", [](const pgtq::Context& ctx) { ctx.warn("careful"); });
    }) == 0);
    CHECK(host.run("logs", "[]").status == PGTQ_DONE);
    REQUIRE(host.logs.size() == 1);
    CHECK(host.logs[0].first == PGTQ_LOG_WARN);
    CHECK(host.logs[0].second == "careful");
  }
}

TEST_CASE("plugin.hpp's barrier holds when the host table lacks functions") {
  // A host built before a function existed has a smaller table; Context must treat the
  // function as absent rather than read past the table's end.
  FakeHost host;
  REQUIRE(host.load([](pgtq::Registry& r) {
    r.add("h", [](pgtq::Context& ctx) {
      return std::vector<bool>{ctx.should_stop(), ctx.name().empty()};
    });
  }) == 0);
  host.api().task_should_stop = nullptr;
  host.api().task_name = nullptr;
  CHECK(host.run("h", "[]").task.result == "[false,true]");
}
