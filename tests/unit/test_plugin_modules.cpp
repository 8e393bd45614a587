// The built example plugins (and throws.so from tests/plugins), loaded the way pgtqd loads
// them: dlopen, pgtq_plugin_entry, handshake fields, init through a host table.
#include "test_plugin_fake_host.hpp"

#include <doctest/doctest.h>

#include <dlfcn.h>

#include <memory>
#include <string>
#include <vector>

using pgtq::test::FakeHost;
using pgtq::test::FakeTask;
using pgtq::test::Outcome;

namespace {

class LoadedPlugin {
public:
  explicit LoadedPlugin(const std::string& path)
      : m_handle(dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL)) {
    REQUIRE_MESSAGE(m_handle != nullptr, dlerror());
    auto entry = reinterpret_cast<pgtq_plugin_entry_fn>(dlsym(m_handle, PGTQ_PLUGIN_ENTRY_SYMBOL));
    REQUIRE(static_cast<bool>(entry));
    m_info = entry();
    REQUIRE(m_info != nullptr);
  }
  LoadedPlugin(const LoadedPlugin&) = delete;
  LoadedPlugin& operator=(const LoadedPlugin&) = delete;
  ~LoadedPlugin() {
    m_host.unload();
    if (m_info != nullptr && m_info->fini != nullptr && m_initialised) {
      m_info->fini();
    }
    dlclose(m_handle);
  }

  const pgtq_plugin_info& info() const { return *m_info; }
  FakeHost& host() { return m_host; }

  int init() {
    const int status = m_info->init(&m_host.api(), m_host.host(), "", 0);
    m_initialised = status == 0;
    return status;
  }

private:
  void* m_handle;
  const pgtq_plugin_info* m_info = nullptr;
  FakeHost m_host;
  bool m_initialised = false;
};

std::string example(const std::string& name) {
  return std::string(PGTQ_TEST_PLUGIN_DIR) + "/" + name + ".so";
}

} // namespace

TEST_CASE("example plugins load and register their handlers") {
  const std::vector<std::pair<std::string, std::vector<std::string>>> expected = {
      {"math", {"add_numbers", "greet", "mean"}},
      {"flaky", {"flaky", "crash_once"}},
      {"sleep", {"sleep"}},
      {"echo", {"echo"}},
      {"noop", {"noop"}}};
  for (const auto& [name, handlers] : expected) {
    CAPTURE(name);
    LoadedPlugin plugin(example(name));
    CHECK(plugin.info().magic == PGTQ_ABI_MAGIC);
    CHECK(plugin.info().abi_major == PGTQ_ABI_MAJOR);
    CHECK(plugin.info().struct_size == sizeof(pgtq_plugin_info));
    CHECK(std::string(plugin.info().name) == name);
    REQUIRE(plugin.init() == 0);
    CHECK(plugin.host().names == handlers);
  }
}

TEST_CASE("math.so computes") {
  LoadedPlugin plugin(example("math"));
  REQUIRE(plugin.init() == 0);
  const FakeHost& host = plugin.host();
  CHECK(host.run("add_numbers", "[2, 3]").task.result == "5");
  CHECK(host.run("add_numbers", R"([2, "x"])").task.error ==
        R"(add_numbers: argument 2: expected integer, got string "x")");
  CHECK(host.run("add_numbers", "[9223372036854775807, 1]").status == PGTQ_FAIL);
  CHECK(host.run("greet", R"({"name": "Ada"})").task.result == R"("Hello, Ada!")");
  CHECK(host.run("greet", R"(["Ada", "Good morning"])").task.result == R"("Good morning, Ada!")");
  CHECK(host.run("mean", R"({"values": [1, 2, 4.5]})").task.result == "2.5");
  CHECK(host.run("mean", "[[]]").status == PGTQ_FAIL);
}

TEST_CASE("flaky.so fails its first attempts, with a short backoff") {
  LoadedPlugin plugin(example("flaky"));
  REQUIRE(plugin.init() == 0);
  const FakeHost& host = plugin.host();
  CHECK(host.find("flaky")->backoff_base_s == 0.1);
  FakeTask task;
  for (int attempt = 1; attempt <= 2; ++attempt) {
    task.attempt = attempt;
    const Outcome outcome = host.run("flaky", R"({"fail_times": 2})", task);
    CHECK(outcome.status == PGTQ_RETRY);
    CHECK(outcome.task.error.has_value());
  }
  task.attempt = 3;
  CHECK(host.run("flaky", "[2]", task).task.result == R"({"attempts":3})");
  task.attempt = 1;
  CHECK(host.run("flaky", "[0]", task).status == PGTQ_DONE);
}

TEST_CASE("sleep.so sleeps and stops when asked") {
  LoadedPlugin plugin(example("sleep"));
  REQUIRE(plugin.init() == 0);
  CHECK(plugin.host().run("sleep", "[0.01]").task.result == "0.01");
  FakeTask stopping;
  stopping.stop = true;
  const Outcome stopped = plugin.host().run("sleep", R"({"seconds": 60})", stopping);
  CHECK(stopped.status == PGTQ_RETRY);
  CHECK(stopped.task.error->find("stopped after") != std::string::npos);
  CHECK(plugin.host().run("sleep", "[-1]").status == PGTQ_FAIL);
}

TEST_CASE("echo.so (C) echoes and fails on request") {
  LoadedPlugin plugin(example("echo"));
  REQUIRE(plugin.init() == 0);
  CHECK(plugin.host().run("echo", R"([1, "two", {"three": 3}])").task.result ==
        R"([1, "two", {"three": 3}])");
  const Outcome failed = plugin.host().run("echo", R"({"fail": "as asked"})");
  CHECK(failed.status == PGTQ_FAIL);
  CHECK(failed.task.error == "as asked");
}

TEST_CASE("noop.so does nothing, successfully") {
  LoadedPlugin plugin(example("noop"));
  REQUIRE(plugin.init() == 0);
  const Outcome outcome = plugin.host().run("noop", "[]");
  CHECK(outcome.status == PGTQ_DONE);
  CHECK_FALSE(outcome.task.result.has_value());
}

TEST_CASE("throws.so: the barrier turns escaping exceptions into retries") {
  LoadedPlugin plugin(std::string(PGTQ_TEST_BROKEN_PLUGIN_DIR) + "/throws/throws.so");
  REQUIRE(plugin.init() == 0);
  const Outcome runtime = plugin.host().run("throw_runtime", "[]");
  CHECK(runtime.status == PGTQ_RETRY);
  CHECK(runtime.task.error == "boom");
  const Outcome integer = plugin.host().run("throw_int", "[]");
  CHECK(integer.status == PGTQ_RETRY);
  CHECK(integer.task.error->rfind("unknown exception", 0) == 0);
}

TEST_CASE("plugin.h's own example, built as C99 and C11 straight from the header, loads and runs") {
  for (const std::string standard : {"c99", "c11"}) {
    CAPTURE(standard);
    LoadedPlugin plugin(std::string(PGTQ_TEST_BROKEN_PLUGIN_DIR) + "/header_example_" + standard +
                        "/hello.so");
    CHECK(plugin.info().magic == PGTQ_ABI_MAGIC);
    CHECK(plugin.info().abi_major == PGTQ_ABI_MAJOR);
    CHECK(plugin.info().abi_minor == PGTQ_ABI_MINOR);
    CHECK(plugin.info().struct_size == sizeof(pgtq_plugin_info));
    CHECK(std::string(plugin.info().name) == "hello");
    CHECK(static_cast<bool>(plugin.info().fini == nullptr));
    REQUIRE(plugin.init() == 0);
    CHECK(plugin.host().names == std::vector<std::string>{"hello"});
    const Outcome done = plugin.host().run("hello", "[]");
    CHECK(done.status == PGTQ_DONE);
    CHECK(done.task.result == R"("hello")");
    FakeTask stopping;
    stopping.stop = true;
    CHECK(plugin.host().run("hello", "[]", stopping).status == PGTQ_RETRY);
  }
}
