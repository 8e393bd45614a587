// Every call pgtqd makes into plugin code (pgtq_plugin_entry, init, handle, destroy, fini)
// goes through one guard: an exception that escapes it is logged naming the plugin's file,
// and the call counts as failed, as plugin.h documents. misbehaves.so (tests/plugins) is a
// C++ plugin without plugin.hpp's barrier that throws or fails where its config says.
#include "support/daemon_process.hpp"
#include "support/sql.hpp"
#include "support/task_state.hpp"
#include "support/test_database.hpp"

#include <doctest/doctest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

using namespace pgtq;
using namespace pgtq::test;

namespace {

// A plugin-config-dir holding misbehaves.conf with the given text; removed at the end.
class MisbehaviourConfig {
public:
  explicit MisbehaviourConfig(const std::string& text)
      : m_dir("/tmp/pgtqd-test-misbehaves-" + std::to_string(::getpid())) {
    std::filesystem::remove_all(m_dir);
    std::filesystem::create_directories(m_dir);
    std::ofstream(m_dir + "/misbehaves.conf") << text;
  }
  ~MisbehaviourConfig() { std::filesystem::remove_all(m_dir); }
  MisbehaviourConfig(const MisbehaviourConfig&) = delete;
  MisbehaviourConfig& operator=(const MisbehaviourConfig&) = delete;

  const std::string& dir() const { return m_dir; }

private:
  std::string m_dir;
};

bool has(const std::string& log, const std::string& text) {
  return log.find(text) != std::string::npos;
}

// The "handling tasks: a, b, c" line pgtqd logs once its plugins are loaded.
std::string handled_tasks(const std::string& log) {
  const std::size_t start = log.find("handling tasks: ");
  return start == std::string::npos ? "" : log.substr(start, log.find('\n', start) - start);
}

int exit_code(const std::optional<int>& status) {
  return status && WIFEXITED(*status) ? WEXITSTATUS(*status) : -1;
}

} // namespace

TEST_CASE("a plugin whose init() throws is refused like a failing init(), naming its file") {
  TestDatabase database;
  db::Connection connection = database.connect();
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"init=throw", "init() let an exception escape: init trouble"},
      {"init=throw_int",
       "init() let an exception escape: an exception not derived from std::exception"}};
  for (const auto& [config, escaped] : cases) {
    CAPTURE(config);
    const MisbehaviourConfig conf(config);
    {
      // By default pgtqd refuses to start.
      DaemonProcess daemon({.dsn = database.dsn(),
                            .plugin_dirs = {example_plugin_dir(), test_plugin_dir("misbehaves")},
                            .extra_args = {"--plugin-config-dir", conf.dir()}});
      const auto status = daemon.wait_exit(20s);
      const std::string log = daemon.log();
      CHECK_MESSAGE(exit_code(status) == 78, log);
      CHECK_MESSAGE(has(log, "misbehaves.so: " + escaped), log);
      // What init() registered before it threw is destroyed: the plugin leaves whole, and
      // is owed no fini() since its init() did not succeed.
      CHECK_MESSAGE(has(log, "misbehaves: destroy ran"), log);
      CHECK_MESSAGE(!has(log, "misbehaves: fini ran"), log);
    }
    {
      // With plugin-load-errors = skip the others load.
      const std::string id = push_to_default(connection, "add_numbers", "[20, 22]");
      DaemonProcess daemon(
          {.dsn = database.dsn(),
           .plugin_dirs = {example_plugin_dir(), test_plugin_dir("misbehaves")},
           .extra_args = {"--plugin-config-dir", conf.dir(), "--plugin-load-errors", "skip"}});
      REQUIRE_MESSAGE(reaches(connection, id, "succeeded"), daemon.log());
      const std::string log = daemon.log();
      CHECK_MESSAGE(has(log, "plugin \"misbehaves.so\": " + escaped + "; not loaded"), log);
      CHECK_MESSAGE(has(log, "misbehaves: destroy ran"), log);
      CHECK_MESSAGE(!has(log, "misbehaves: fini ran"), log);
      const std::string handled = handled_tasks(log);
      CHECK_MESSAGE((has(handled, "add_numbers") && !has(handled, "misbehave")), log);
      CHECK(daemon.running());
    }
  }
}

TEST_CASE("a plugin whose init() fails and whose destroy() throws is refused, and the others "
          "load") {
  TestDatabase database;
  db::Connection connection = database.connect();
  const MisbehaviourConfig conf("init=fail destroy=throw");
  const std::string id = push_to_default(connection, "add_numbers", "[1, 2]");
  DaemonProcess daemon(
      {.dsn = database.dsn(),
       .plugin_dirs = {example_plugin_dir(), test_plugin_dir("misbehaves")},
       .extra_args = {"--plugin-config-dir", conf.dir(), "--plugin-load-errors", "skip"}});
  REQUIRE_MESSAGE(reaches(connection, id, "succeeded"), daemon.log());
  const std::string log = daemon.log();
  CHECK_MESSAGE(has(log, "plugin \"misbehaves.so\": init() returned 2; not loaded"), log);
  CHECK_MESSAGE(has(log,
                    "misbehaves (misbehaves.so)\": destroy() let an exception escape: "
                    "destroy trouble"),
                log);
  CHECK(daemon.running());
}

TEST_CASE("at shutdown, a destroy() or fini() that throws is logged and pgtqd still exits 0") {
  TestDatabase database;
  db::Connection connection = database.connect();
  std::string config;
  SUBCASE("destroy() throws") {
    config = "destroy=throw";
  }
  SUBCASE("fini() throws") {
    config = "fini=throw";
  }
  SUBCASE("both throw") {
    config = "destroy=throw fini=throw";
  }
  CAPTURE(config);
  const MisbehaviourConfig conf(config);
  const std::string id = push_to_default(connection, "misbehave", "[]");
  DaemonProcess daemon({.dsn = database.dsn(),
                        .plugin_dirs = {example_plugin_dir(), test_plugin_dir("misbehaves")},
                        .extra_args = {"--plugin-config-dir", conf.dir()}});
  REQUIRE_MESSAGE(reaches(connection, id, "succeeded"), daemon.log());
  CHECK(field(connection, "result", id) == "\"ok\"");
  daemon.signal(SIGTERM);
  const auto status = daemon.wait_exit(30s);
  const std::string log = daemon.log();
  CHECK_MESSAGE(exit_code(status) == 0, log);
  CHECK_MESSAGE(has(log, "misbehaves: destroy ran"), log);
  CHECK_MESSAGE(has(log, "misbehaves: fini ran"), log);
  const std::string plugin = "plugin \"misbehaves (misbehaves.so)\": ";
  CHECK_MESSAGE(has(log, plugin + "destroy() let an exception escape: destroy trouble") ==
                    has(config, "destroy=throw"),
                log);
  CHECK_MESSAGE(has(log, plugin + "fini() let an exception escape: fini trouble") ==
                    has(config, "fini=throw"),
                log);
}

TEST_CASE("a handler that lets an exception through the C boundary: the attempt fails with a "
          "message naming the plugin's file, and pgtqd goes on") {
  TestDatabase database;
  db::Connection connection = database.connect();
  const MisbehaviourConfig conf("handle=throw");
  const std::string id = push_to_default(connection, "misbehave", "[]", "1");
  DaemonProcess daemon({.dsn = database.dsn(),
                        .plugin_dirs = {test_plugin_dir("misbehaves")},
                        .extra_args = {"--plugin-config-dir", conf.dir()}});
  REQUIRE_MESSAGE(reaches(connection, id, "failed"), daemon.log());
  const std::string escaped =
      "plugin \"misbehaves (misbehaves.so)\": handle() let an exception escape: handle trouble";
  CHECK(has(field(connection, "last_error", id), escaped));
  CHECK_MESSAGE(has(daemon.log(), escaped), daemon.log());
  CHECK(daemon.running());
}
