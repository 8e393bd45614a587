// A host call pgtqd refuses leaves its reason in the attempt's error, whatever the handler
// returns afterwards: the real host table and TaskExecutor, driven by small C handlers.
#include "plugin/handler_registry.hpp"
#include "plugin/host_api.hpp"
#include "queue/task_executor.hpp"

#include <doctest/doctest.h>

#include <cmath>
#include <limits>
#include <string>

using namespace pgtq;

namespace {

// What the handler under test does; set by each case before running it.
struct Script {
  std::string result; // passed to task_set_result when not empty
  std::string error;  // passed to task_set_error when not empty
  double delay = 0;   // passed to task_set_retry_delay when set_delay
  bool set_delay = false;
  pgtq_status status = PGTQ_FAIL;
  int set_result_returned = 0; // what task_set_result said
};
Script g_script;

pgtq_status scripted(void*, pgtq_task* task) {
  const pgtq_host_api& api = plugin::host_api();
  if (!g_script.result.empty()) {
    g_script.set_result_returned =
        api.task_set_result(task, g_script.result.data(), g_script.result.size());
  }
  if (!g_script.error.empty()) {
    api.task_set_error(task, g_script.error.data(), g_script.error.size());
  }
  if (g_script.set_delay) {
    api.task_set_retry_delay(task, g_script.delay);
  }
  return g_script.status;
}

queue::Outcome run(const Script& script) {
  g_script = script;
  plugin::HandlerRegistry registry;
  pgtq_handler handler{};
  handler.struct_size = sizeof handler;
  handler.name = "scripted";
  handler.handle = scripted;
  REQUIRE(registry.add("test (test.so)", handler, plugin::BackoffPolicy{}).empty());
  queue::ClaimedTask task;
  task.id = 1;
  task.name = "scripted";
  task.args = "[]";
  task.attempt = 1;
  const std::atomic<bool> stop{false};
  return queue::TaskExecutor(registry).run(task, stop);
}

} // namespace

TEST_CASE("a refused result followed by PGTQ_FAIL records why it was refused") {
  SUBCASE("\\u0000") {
    const queue::Outcome outcome = run({.result = R"({"a": "x\u0000y"})"});
    CHECK(g_script.set_result_returned == -1);
    CHECK(outcome.status == queue::OutcomeStatus::fail);
    CHECK(outcome.error == "pgtqd refused task_set_result: contains \\u0000, which PostgreSQL "
                           "cannot store in jsonb");
  }
  SUBCASE("a lone low surrogate") {
    const queue::Outcome outcome = run({.result = R"("\udc00")"});
    CHECK(g_script.set_result_returned == -1);
    CHECK(outcome.error.find("lone UTF-16 surrogate (\\udc00)") != std::string::npos);
  }
  SUBCASE("a lone high surrogate") {
    const queue::Outcome outcome = run({.result = R"(["\ud800x"])"});
    CHECK(g_script.set_result_returned == -1);
    CHECK(outcome.error.find("surrogate") != std::string::npos);
  }
  SUBCASE("the handler's own message comes first, the refusal after it") {
    const queue::Outcome outcome = run({.result = "{oops", .error = "bad input"});
    CHECK(outcome.error.rfind("bad input; pgtqd refused task_set_result: not valid JSON", 0) == 0);
  }
  SUBCASE("the same on PGTQ_RETRY") {
    const queue::Outcome outcome = run({.result = R"("\u0000")", .status = PGTQ_RETRY});
    CHECK(outcome.status == queue::OutcomeStatus::retry);
    CHECK(outcome.error.find("refused task_set_result") != std::string::npos);
  }
  SUBCASE("PGTQ_DONE after a refused result fails with the reason") {
    const queue::Outcome outcome = run({.result = R"("\u0000")", .status = PGTQ_DONE});
    CHECK(outcome.status == queue::OutcomeStatus::fail);
    CHECK(outcome.error.find("\\u0000") != std::string::npos);
  }
}

TEST_CASE("a refused retry delay is named in the error and the backoff applies") {
  const queue::Outcome nan = run(
      {.delay = std::numeric_limits<double>::quiet_NaN(), .set_delay = true, .status = PGTQ_RETRY});
  CHECK(nan.status == queue::OutcomeStatus::retry);
  CHECK(nan.error == "pgtqd refused task_set_retry_delay: NaN is not a number of seconds; the "
                     "backoff delay applies");
  CHECK(nan.retry_in_s > 0); // the backoff: base 1 s +-20 %
  CHECK(nan.retry_in_s < 2);

  const queue::Outcome inf = run({.error = "busy",
                                  .delay = std::numeric_limits<double>::infinity(),
                                  .set_delay = true,
                                  .status = PGTQ_RETRY});
  CHECK(inf.error.rfind("busy; pgtqd refused task_set_retry_delay: infinity", 0) == 0);

  // Not refusals: a negative delay means now, a huge one is cut to 100 years.
  const queue::Outcome negative = run({.delay = -5, .set_delay = true, .status = PGTQ_RETRY});
  CHECK(negative.retry_in_s == 0);
  CHECK(negative.error == "handler asked for a retry");
  const queue::Outcome huge = run({.delay = 1e300, .set_delay = true, .status = PGTQ_RETRY});
  CHECK(huge.retry_in_s == plugin::k_max_delay_s);
}

TEST_CASE("results jsonb cannot store are refused, surrogates and raw bytes included") {
  auto problem = [](const std::string& json) {
    return plugin::json_problem(json.data(), json.size());
  };
  CHECK(problem(R"("\ud83d\ude00")").empty()); // a surrogate pair: one character
  CHECK(problem(R"(["\\udc00"])").empty());    // an escaped backslash, then text
  CHECK(problem("123456789012345678901234567890.5").empty());
  CHECK(problem("\"caf\xc3\xa9\"").empty());
  CHECK(problem("\"\xff\"").find("not valid JSON") != std::string::npos); // not UTF-8
  CHECK(problem(R"("\ud800\u0041")").find("surrogate") != std::string::npos);
  CHECK(problem(R"("\ud800")").find("surrogate") != std::string::npos);
  CHECK(problem(R"(["\udfff", 1])").find(R"(lone UTF-16 surrogate (\udfff))") != std::string::npos);
}
