#include "plugin/handler_registry.hpp"
#include "plugin/host_api.hpp"

#include <doctest/doctest.h>

using namespace pgtq::plugin;

namespace {

pgtq_status do_nothing(void*, pgtq_task*) {
  return PGTQ_DONE;
}

int destroyed = 0;
void count_destroy(void*) {
  ++destroyed;
}

pgtq_handler handler_named(const char* name) {
  pgtq_handler handler{};
  handler.struct_size = sizeof(pgtq_handler);
  handler.name = name;
  handler.handle = do_nothing;
  handler.destroy = count_destroy;
  return handler;
}

} // namespace

TEST_CASE("the registry refuses bad and duplicate names and applies backoff overrides") {
  HandlerRegistry registry;
  const BackoffPolicy defaults{.base_s = 1, .factor = 2, .cap_s = 100};
  CHECK(registry.add("a (a.so)", handler_named("send_email"), defaults).empty());
  CHECK(registry.add("b (b.so)", handler_named("send_email"), defaults) ==
        "task name \"send_email\" is already registered by plugin \"a (a.so)\"");
  CHECK(registry.add("b (b.so)", handler_named("bad name"), defaults).find("not 1-128") !=
        std::string::npos);
  CHECK_FALSE(registry.add("b (b.so)", handler_named(""), defaults).empty());

  pgtq_handler no_function = handler_named("x");
  no_function.handle = nullptr;
  CHECK(registry.add("b (b.so)", no_function, defaults).find("no handle function") !=
        std::string::npos);

  pgtq_handler custom = handler_named("resize");
  custom.backoff_base_s = 0.5;
  custom.backoff_cap_s = 10;
  CHECK(registry.add("b (b.so)", custom, defaults).empty());
  const Handler* found = registry.find("resize");
  REQUIRE(found != nullptr);
  CHECK(found->backoff.base_s == doctest::Approx(0.5));
  CHECK(found->backoff.factor == doctest::Approx(2)); // not set: the daemon's
  CHECK(found->backoff.cap_s == doctest::Approx(10));
  CHECK(registry.names() == std::vector<std::string>{"resize", "send_email"});

  destroyed = 0;
  registry.remove_plugin("b (b.so)");
  CHECK(destroyed == 1);
  CHECK(registry.find("resize") == nullptr);
  registry.destroy_all();
  CHECK(destroyed == 2);
  registry.destroy_all(); // once only
  CHECK(destroyed == 2);
}

TEST_CASE("a handler struct from an older, smaller ABI reads the missing fields as zero") {
  HandlerRegistry registry;
  pgtq_handler old = handler_named("old_task");
  old.backoff_base_s = 99; // beyond the size the "old plugin" claims: must be ignored
  old.struct_size = offsetof(pgtq_handler, backoff_base_s);
  CHECK(registry.add("old (old.so)", old, BackoffPolicy{}).empty());
  CHECK(registry.find("old_task")->backoff.base_s == doctest::Approx(1.0));
}

TEST_CASE("results must be JSON that jsonb can store") {
  auto problem = [](const std::string& json) { return json_problem(json.data(), json.size()); };
  CHECK(problem("5").empty());
  CHECK(problem(R"({"a":"\\u0000"})").empty()); // an escaped backslash, then text
  CHECK(problem(R"({"a":"\\\u0000"})").find("\\u0000") != std::string::npos);
  CHECK(problem(R"({"a":"\u0000"})").find("\\u0000") != std::string::npos);
  CHECK(problem("{oops").find("not valid JSON") != std::string::npos);
  CHECK(problem("").find("not valid JSON") != std::string::npos);
}

TEST_CASE("the registry keeps plugins' default schedules, refusing incomplete and repeated ones") {
  HandlerRegistry registry;
  pgtq_schedule schedule{};
  schedule.struct_size = sizeof(pgtq_schedule);
  schedule.name = "nightly";
  schedule.queue = "reports";
  schedule.task = "build";
  schedule.cron = "30 2 * * *";
  CHECK(registry.add_schedule("a (a.so)", schedule).empty());
  CHECK(registry.add_schedule("b (b.so)", schedule).find("registered already (by a (a.so))") !=
        std::string::npos);
  pgtq_schedule both = schedule;
  both.name = "both";
  both.every_s = 60;
  CHECK(registry.add_schedule("a (a.so)", both).find("exactly one of cron and every_s") !=
        std::string::npos);
  pgtq_schedule neither = both;
  neither.cron = nullptr;
  neither.every_s = 0;
  CHECK_FALSE(registry.add_schedule("a (a.so)", neither).empty());
  pgtq_schedule no_queue = schedule;
  no_queue.name = "no_queue";
  no_queue.queue = nullptr;
  CHECK_FALSE(registry.add_schedule("a (a.so)", no_queue).empty());
  pgtq_schedule small = schedule;
  small.name = "small";
  small.struct_size = 8;
  CHECK(registry.add_schedule("a (a.so)", small).find("too small") != std::string::npos);
  REQUIRE(registry.schedules().size() == 1);
  CHECK(registry.schedules()[0].plugin == "a (a.so)");
  CHECK_FALSE(registry.schedules()[0].args);
  // A plugin refused whole takes its schedules along.
  registry.remove_plugin("a (a.so)");
  CHECK(registry.schedules().empty());
}
