// plugin.hpp: init(), registration, backoff, fini(), and what setup errors do.
#include "test_plugin_fake_host.hpp"

#include <doctest/doctest.h>

#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

using pgtq::test::FakeHost;

namespace {

int twice(int x) {
  return 2 * x;
}

// Counts live copies, to prove the heap object behind a handler is freed exactly once.
struct Counted {
  explicit Counted(std::shared_ptr<int> live) : m_live(std::move(live)) { ++*m_live; }
  Counted(const Counted& other) : m_live(other.m_live) { ++*m_live; }
  Counted& operator=(const Counted&) = delete;
  ~Counted() { --*m_live; }
  int operator()(int x) const { return x + 1; }
  std::shared_ptr<int> m_live;
};

bool logged(const FakeHost& host, const std::string& part) {
  for (const auto& [level, message] : host.logs) {
    if (message.find(part) != std::string::npos) {
      return true;
    }
  }
  return false;
}

} // namespace

TEST_CASE("plugin.hpp registers handlers with pgtqd") {
  FakeHost host;
  REQUIRE(host.load([](pgtq::Registry& r) {
    PGTQ_HANDLER(r, twice);
    r.add("flaky", twice).backoff(0.1, 2, 5);
    r.add("named", twice, {"x"}).backoff({.base_s = 1, .factor = 0, .cap_s = 0});
    r.add("fn", std::function<int(int)>(twice));
  }) == 0);
  REQUIRE(host.names == std::vector<std::string>{"twice", "flaky", "named", "fn"});
  const pgtq_handler& plain = *host.find("twice");
  CHECK(plain.struct_size == sizeof(pgtq_handler));
  CHECK(plain.user_data != nullptr);
  CHECK(static_cast<bool>(plain.destroy));
  CHECK(plain.backoff_base_s == 0);
  const pgtq_handler& flaky = *host.find("flaky");
  CHECK(flaky.backoff_base_s == 0.1);
  CHECK(flaky.backoff_factor == 2);
  CHECK(flaky.backoff_cap_s == 5);
  CHECK(host.find("named")->backoff_base_s == 1);
  CHECK(host.run("named", R"({"x": 4})").task.result == "8");
  CHECK(host.run("fn", "[5]").task.result == "10");
}

TEST_CASE("plugin.hpp hands its default schedules to pgtqd, and skips them on an older host") {
  const auto setup = [](pgtq::Registry& r) {
    PGTQ_HANDLER(r, twice);
    r.schedule("nightly",
               {.queue = "reports",
                .task = "twice",
                .args = "[2]",
                .cron = "30 2 * * *",
                .time_zone = "Europe/Berlin"});
    r.schedule("often", {.queue = "q", .task = "twice", .every_s = 90, .catch_up = "all"});
  };
  FakeHost host;
  REQUIRE(host.load(setup) == 0);
  CHECK(host.schedules == std::vector<std::string>{
                              "nightly reports twice [2] 30 2 * * * 0.000000 Europe/Berlin latest",
                              "often q twice [] - 90.000000 UTC all"});
  // A 1.1 host has no register_schedule: the handlers load, the schedules are logged as not
  // registered.
  FakeHost older;
  older.api().struct_size = PGTQ_SIZE_THROUGH(pgtq_host_api, task_should_stop);
  REQUIRE(older.load(setup) == 0);
  CHECK(older.names == std::vector<std::string>{"twice"});
  CHECK(older.schedules.empty());
  CHECK(older.logs.size() == 2);
}

TEST_CASE("plugin.hpp frees each handler's state once, in destroy") {
  auto live = std::make_shared<int>(0);
  {
    FakeHost host;
    REQUIRE(host.load([&](pgtq::Registry& r) {
      r.add("counted", Counted(live));
      r.add("captures", [state = std::make_unique<int>(5)](int x) { return x * *state; });
    }) == 0);
    CHECK(*live == 1);
    CHECK(host.run("counted", "[1]").task.result == "2");
    CHECK(host.run("captures", "[2]").task.result == "10");
  }
  CHECK(*live == 0);
}

TEST_CASE("plugin.hpp refuses to load when setup goes wrong, registering nothing") {
  FakeHost host;
  SUBCASE("setup throws") {
    CHECK(host.load([](pgtq::Registry& r) {
      PGTQ_HANDLER(r, twice);
      throw std::runtime_error("no config");
    }) != 0);
    CHECK(logged(host, "plugin setup failed: no config"));
  }
  SUBCASE("setup throws something odd") {
    CHECK(host.load([](pgtq::Registry&) { throw 1; }) != 0);
    CHECK(logged(host, "unknown exception"));
  }
  SUBCASE("bad task name") {
    CHECK(host.load([](pgtq::Registry& r) { r.add("has space", twice); }) != 0);
    CHECK(logged(host, R"(task name "has space" is not 1-128 characters)"));
    CHECK(host.load([](pgtq::Registry& r) { r.add("", twice); }) != 0);
    CHECK(host.load([](pgtq::Registry& r) { r.add(std::string(129, 'a'), twice); }) != 0);
  }
  SUBCASE("same name twice") {
    CHECK(host.load([](pgtq::Registry& r) {
      r.add("x", twice);
      r.add("x", twice);
    }) != 0);
    CHECK(logged(host, R"(task name "x" added twice)"));
  }
  SUBCASE("wrong number of parameter names") {
    CHECK(host.load([](pgtq::Registry& r) { r.add("x", twice, {"a", "b"}); }) != 0);
    CHECK(logged(host, "has 1 parameters but 2 names were given"));
    CHECK(host.load([](pgtq::Registry& r) { r.add("y", [](int, int) {}, {"a", "a"}); }) != 0);
    CHECK(logged(host, "parameter names must be distinct"));
    CHECK(host.load([](pgtq::Registry& r) { r.add("z", [](pgtq::Args) {}, {"a"}); }) != 0);
  }
  CHECK(host.handlers.empty());
}

TEST_CASE("plugin.hpp fails the plugin when pgtqd refuses a handler") {
  FakeHost host;
  host.refuse.insert("taken");
  CHECK(host.load([](pgtq::Registry& r) {
    r.add("first", twice);
    r.add("taken", twice);
    r.add("never", twice);
  }) != 0);
  CHECK(logged(host, R"(pgtqd refused handler "taken")"));
  // "first" was accepted before the refusal; pgtqd owns it and destroys it (FakeHost does
  // at unload). "taken" and "never" were freed by the plugin.
  CHECK(host.names == std::vector<std::string>{"first"});
}

TEST_CASE("plugin.hpp checks the host's ABI before using it") {
  FakeHost host;
  bool ran = false;
  auto setup = [&](pgtq::Registry&) { ran = true; };
  SUBCASE("another major") {
    host.api().abi_major = PGTQ_ABI_MAJOR + 1;
    CHECK(host.load(setup) != 0);
    CHECK(logged(host, "another plugin ABI"));
  }
  SUBCASE("a table smaller than ABI 1.0's") {
    host.api().struct_size = offsetof(pgtq_host_api, task_set_error);
    CHECK(host.load(setup) != 0);
  }
  SUBCASE("a table too small to even log") {
    host.api().struct_size = 8;
    CHECK(host.load(setup) != 0);
    CHECK(host.logs.empty());
  }
  CHECK_FALSE(ran);
  CHECK(pgtq::detail::init_plugin(
            *std::make_unique<pgtq::detail::PluginState>(), nullptr, nullptr, nullptr, 0, setup) !=
        0);
}

TEST_CASE("plugin.hpp passes config to setup and runs unload hooks in fini") {
  FakeHost host;
  std::vector<std::string> events;
  REQUIRE(host.load(
              [&](pgtq::Registry& r) {
                events.emplace_back("config=" + std::string(r.config()));
                r.on_unload([&] { events.emplace_back("first hook"); });
                r.on_unload([&] {
                  events.emplace_back("second hook");
                  throw std::runtime_error("hook trouble");
                });
              },
              "threads=4") == 0);
  host.unload();
  CHECK(events == std::vector<std::string>{"config=threads=4", "second hook", "first hook"});
  CHECK(logged(host, "unload hook failed: hook trouble"));
  host.unload(); // fini twice is harmless
  CHECK(events.size() == 3);
}
