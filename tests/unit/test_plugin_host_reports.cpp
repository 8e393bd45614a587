// The ABI 1.3 host functions with the real host table and TaskExecutor: what a handler
// reports, pushes and reads reaches the outcome and the reporter, and what the database would
// refuse is refused at the call, so that pgtqd never takes what it cannot write.
#include "plugin/handler_registry.hpp"
#include "plugin/host_api.hpp"
#include "queue/task_executor.hpp"

#include <doctest/doctest.h>

#include <functional>
#include <string>
#include <vector>

using namespace pgtq;

namespace {

std::function<pgtq_status(const pgtq_host_api&, pgtq_task*)> g_handle;

pgtq_status scripted(void*, pgtq_task* task) {
  return g_handle(plugin::host_api(), task);
}

// Collects what reaches the reporter while the handler runs.
struct Collected final : plugin::TaskReporter {
  std::vector<std::string> progress_seen;
  std::vector<std::string> checkpoints_seen;
  void progress(std::string json) override { progress_seen.push_back(std::move(json)); }
  void checkpoint(std::string json) override { checkpoints_seen.push_back(std::move(json)); }
};

queue::Outcome run(std::function<pgtq_status(const pgtq_host_api&, pgtq_task*)> handle,
                   Collected* reporter = nullptr,
                   std::optional<std::string> parents = std::nullopt,
                   std::optional<std::string> checkpoint = std::nullopt) {
  g_handle = std::move(handle);
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
  task.parents = std::move(parents);
  task.checkpoint = std::move(checkpoint);
  const std::atomic<bool> stop{false};
  return queue::TaskExecutor(registry).run(task, stop, std::nullopt, reporter);
}

int set(int (*call)(pgtq_task*, const char*, size_t), pgtq_task* task, const std::string& json) {
  return call(task, json.data(), json.size());
}

} // namespace

TEST_CASE("progress and checkpoints reach the reporter as they come and the outcome at the end, "
          "and a repeated progress is not handed on again") {
  Collected reporter;
  const queue::Outcome outcome = run(
      [](const pgtq_host_api& api, pgtq_task* task) {
        CHECK(set(api.task_set_progress, task, R"({"done": 1})") == 0);
        CHECK(set(api.task_set_progress, task, R"({"done": 1})") == 0);
        CHECK(set(api.task_set_checkpoint, task, R"({"at": 1})") == 0);
        CHECK(set(api.task_set_progress, task, R"({"done": 2})") == 0);
        return PGTQ_RETRY;
      },
      &reporter);
  CHECK(reporter.progress_seen == std::vector<std::string>{R"({"done": 1})", R"({"done": 2})"});
  CHECK(reporter.checkpoints_seen == std::vector<std::string>{R"({"at": 1})"});
  CHECK(outcome.progress == R"({"done": 2})");
  CHECK(outcome.checkpoint == R"({"at": 1})");
}

TEST_CASE("a report the database would refuse is refused at the call") {
  std::string deep(101, '[');
  deep += std::string(101, ']');
  std::string shallow(100, '[');
  shallow += "\"[[[\"" + std::string(100, ']');
  const std::string too_long = "\"" + std::string(64 * 1024, 'x') + "\"";
  run([&](const pgtq_host_api& api, pgtq_task* task) {
    CHECK(set(api.task_set_progress, task, "{\"a\": ") == -1);
    CHECK(set(api.task_set_progress, task, R"("\u0000")") == -1);
    CHECK(set(api.task_set_progress, task, deep) == -1);
    CHECK(set(api.task_set_checkpoint, task, deep) == -1);
    CHECK(set(api.task_set_progress, task, shallow) == 0); // brackets in a string count for nothing
    CHECK(set(api.task_set_progress, task, too_long) == -1);
    CHECK(set(api.task_set_checkpoint, task, too_long) == 0); // a checkpoint may hold 1 MiB
    CHECK(api.task_set_progress(task, nullptr, 0) == -1);
    return PGTQ_DONE;
  });
}

TEST_CASE("follow-ups go with a done outcome only, and a malformed one is refused at the call") {
  const auto push = [](const pgtq_host_api& api, pgtq_task* task) {
    CHECK(set(api.task_push_followup, task, R"({"task": "next", "args": [1]})") == 0);
    CHECK(set(api.task_push_followup, task, R"({"queue": "q", "task": "other"})") == 0);
    CHECK(set(api.task_push_followup, task, R"(["task"])") == -1);
    CHECK(set(api.task_push_followup, task, R"({"args": []})") == -1);
    CHECK(set(api.task_push_followup, task, R"({"task": "t", "queue": 5})") == -1);
    CHECK(set(api.task_push_followup, task, R"({"task": "t", "unique_key": "k"})") == -1);
  };
  const queue::Outcome done = run([&](const pgtq_host_api& api, pgtq_task* task) {
    push(api, task);
    return PGTQ_DONE;
  });
  CHECK(done.followups == std::vector<std::string>{R"({"task": "next", "args": [1]})",
                                                   R"({"queue": "q", "task": "other"})"});
  const queue::Outcome retried = run([&](const pgtq_host_api& api, pgtq_task* task) {
    push(api, task);
    return PGTQ_RETRY;
  });
  CHECK(retried.followups.empty());
  const queue::Outcome capped = run([](const pgtq_host_api& api, pgtq_task* task) {
    int accepted = 0;
    for (int i = 0; i < 1001; ++i) {
      accepted += set(api.task_push_followup, task, R"({"task": "t"})") == 0 ? 1 : 0;
    }
    CHECK(accepted == 1000);
    return PGTQ_DONE;
  });
  CHECK(capped.followups.size() == 1000);
}

TEST_CASE("a handler reads its parents and the checkpoint its task was claimed with") {
  run(
      [](const pgtq_host_api& api, pgtq_task* task) {
        const char* json = nullptr;
        size_t len = 0;
        api.task_parents(task, &json, &len);
        CHECK(std::string(json, len) == R"([{"id": 2}])");
        api.task_checkpoint(task, &json, &len);
        CHECK(std::string(json, len) == R"({"at": 7})");
        return PGTQ_DONE;
      },
      nullptr,
      R"([{"id": 2}])",
      R"({"at": 7})");
  run([](const pgtq_host_api& api, pgtq_task* task) {
    const char* json = "x";
    size_t len = 9;
    api.task_parents(task, &json, &len);
    CHECK(std::string(json, len) == "[]");
    api.task_checkpoint(task, &json, &len);
    CHECK(json == nullptr);
    CHECK(len == 0);
    return PGTQ_DONE;
  });
}
