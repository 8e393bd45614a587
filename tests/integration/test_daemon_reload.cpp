// Hot reload: SIGHUP makes pgtqd load its plugin directory again. A new plugin's tasks are
// claimed from then on, a changed one serves the tasks claimed after the reload while a
// running task finishes on the code it started with, a removed one stops being claimed, and
// a file that does not load keeps the old plugins serving. In both isolation modes.
#include "support/daemon_process.hpp"
#include "support/sql.hpp"
#include "support/task_state.hpp"
#include "support/test_database.hpp"

#include <doctest/doctest.h>

#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <string>
#include <vector>

using namespace pgtq;
using namespace pgtq::test;

namespace {

namespace fs = std::filesystem;

// A plugin directory of the test's own, which it changes under the running pgtqd.
class PluginDir {
public:
  PluginDir()
      : m_path("/tmp/pgtqd-test-reload-" + std::to_string(::getpid()) + "-" +
               std::to_string(++s_count)) {
    fs::remove_all(m_path);
    fs::create_directories(m_path);
    fs::permissions(m_path,
                    fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                        fs::perms::others_read | fs::perms::others_exec);
  }
  ~PluginDir() { fs::remove_all(m_path); }
  PluginDir(const PluginDir&) = delete;
  PluginDir& operator=(const PluginDir&) = delete;

  // Copies a built plugin in under the name `as`, over (in place, as cp does) a file there.
  void put(const std::string& from, const std::string& as) const {
    fs::copy_file(from, m_path + "/" + as, fs::copy_options::overwrite_existing);
  }
  void remove(const std::string& name) const { fs::remove(m_path + "/" + name); }
  const std::string& path() const { return m_path; }

private:
  static inline int s_count = 0;
  std::string m_path;
};

DaemonProcess::Options
options_for(const TestDatabase& database, const PluginDir& dir, const std::string& mode) {
  return {.dsn = database.dsn(),
          .plugin_dirs = {dir.path()},
          .extra_args = {"--isolation", mode, "--concurrency", "2", "--log-level", "debug"}};
}

// Sends SIGHUP and waits until the log says the plugins were loaded as this generation.
bool reload(DaemonProcess& daemon, int generation) {
  daemon.signal(SIGHUP);
  return daemon.wait_for_log("plugins reloaded (generation " + std::to_string(generation) + ")",
                             30s);
}

const std::string k_modes[] = {"process", "thread"};

} // namespace

TEST_CASE("SIGHUP loads a plugin dropped into the directory, and stops claiming a removed "
          "one's tasks") {
  for (const std::string& mode : k_modes) {
    CAPTURE(mode);
    TestDatabase database;
    db::Connection connection = database.connect();
    PluginDir dir;
    dir.put(test_plugin_dir("runaway") + "/runaway.so", "runaway.so");
    DaemonProcess daemon(options_for(database, dir, mode));
    REQUIRE_MESSAGE(daemon.wait_for_log("listening as", 20s), daemon.log());
    const std::string sum = push_to_default(connection, "add_numbers", "[2, 3]");

    dir.put(example_plugin_dir() + "/math.so", "math.so");
    REQUIRE_MESSAGE(reload(daemon, 2), daemon.log());
    REQUIRE_MESSAGE(reaches(connection, sum, "succeeded", 20s), daemon.log());
    CHECK(field(connection, "result", sum) == "5");

    dir.remove("runaway.so");
    REQUIRE_MESSAGE(reload(daemon, 3), daemon.log());
    // Pushed first, so claimed first if it could be: the later task's success shows that
    // pgtqd claims and the nap is not among what it claims.
    const std::string nap = push_to_default(connection, "nap", R"({"ms": 1})");
    const std::string later = push_to_default(connection, "add_numbers", "[1, 1]");
    REQUIRE_MESSAGE(reaches(connection, later, "succeeded", 20s), daemon.log());
    CHECK(field(connection, "state", nap) == "queued");
    CHECK(daemon.running());
  }
}

TEST_CASE("a plugin changed and reloaded serves the tasks claimed after the reload, while a "
          "task running during it finishes on the old code") {
  for (const std::string& mode : k_modes) {
    CAPTURE(mode);
    TestDatabase database;
    db::Connection connection = database.connect();
    PluginDir dir;
    dir.put(test_plugin_dir("versioned_v1") + "/versioned.so", "versioned.so");
    DaemonProcess daemon(options_for(database, dir, mode));
    REQUIRE_MESSAGE(daemon.wait_for_log("listening as", 20s), daemon.log());
    const std::string running = push_to_default(connection, "version", R"({"ms": 3000})");
    REQUIRE_MESSAGE(daemon.wait_for_log("task " + running + " (version) attempt 1/5 started", 20s),
                    daemon.log());

    // cp over the loaded file, in place: the running code is a private copy, unaffected.
    dir.put(test_plugin_dir("versioned_v2") + "/versioned.so", "versioned.so");
    REQUIRE_MESSAGE(reload(daemon, 2), daemon.log());
    const std::string after = push_to_default(connection, "version", "{}");
    REQUIRE_MESSAGE(reaches(connection, after, "succeeded", 20s), daemon.log());
    CHECK(field(connection, "result", after) == "\"2\"");
    REQUIRE_MESSAGE(reaches(connection, running, "succeeded", 20s), daemon.log());
    CHECK(field(connection, "result", running) == "\"1\"");
    CHECK(daemon.running());
  }
}

TEST_CASE("a replacement that does not load leaves the old plugin serving, and the log names "
          "the file and why") {
  for (const std::string& mode : k_modes) {
    CAPTURE(mode);
    TestDatabase database;
    db::Connection connection = database.connect();
    PluginDir dir;
    dir.put(test_plugin_dir("versioned_v1") + "/versioned.so", "versioned.so");
    DaemonProcess daemon(options_for(database, dir, mode));
    REQUIRE_MESSAGE(daemon.wait_for_log("listening as", 20s), daemon.log());

    dir.put(test_plugin_dir("bad_magic") + "/bad_magic.so", "versioned.so");
    daemon.signal(SIGHUP);
    REQUIRE_MESSAGE(daemon.wait_for_log("plugin reload refused", 30s), daemon.log());
    const std::string log = daemon.log();
    const std::string line = log.substr(log.find("plugin reload refused"));
    CHECK_MESSAGE(
        line.find("versioned.so: not a pgtq plugin (bad magic number)") != std::string::npos, log);
    const std::string id = push_to_default(connection, "version", "{}");
    REQUIRE_MESSAGE(reaches(connection, id, "succeeded", 20s), daemon.log());
    CHECK(field(connection, "result", id) == "\"1\"");
    CHECK(daemon.running());
  }
}

TEST_CASE("isolation = process: a slot waiting out its restart delay when the plugins are "
          "reloaded starts its worker on the new plugins") {
  TestDatabase database;
  db::Connection connection = database.connect();
  PluginDir dir;
  dir.put(test_plugin_dir("crash") + "/crash.so", "crash.so");
  DaemonProcess daemon(
      {.dsn = database.dsn(),
       .plugin_dirs = {dir.path()},
       .extra_args = {"--isolation", "process", "--concurrency", "1", "--log-level", "debug"}});
  REQUIRE_MESSAGE(daemon.wait_for_log("listening as", 20s), daemon.log());
  // Eight deaths in a row without a finished attempt: the next start waits 6.4 s.
  std::vector<std::string> crashes;
  for (int i = 0; i < 8; ++i) {
    crashes.push_back(push_to_default(connection, "crash", R"({"how": "segv"})", "1"));
  }
  for (const std::string& id : crashes) {
    REQUIRE_MESSAGE(reaches(connection, id, "failed", 30s), daemon.log());
  }
  REQUIRE_MESSAGE(reload(daemon, 2), daemon.log());
  REQUIRE_MESSAGE(daemon.wait_for_log("worker 1 started again", 20s), daemon.log());
  const std::string after = push_to_default(connection, "crash", "{}");
  REQUIRE_MESSAGE(reaches(connection, after, "succeeded", 20s), daemon.log());
  CHECK_MESSAGE(daemon.log().find("plugins generation 2 replaces 1") == std::string::npos,
                daemon.log());
}

TEST_CASE("a plugin's default schedule is created at start, follows the plugin through a "
          "reload, and an operator's change or deletion wins over both") {
  TestDatabase database;
  db::Connection connection = database.connect();
  PluginDir dir;
  dir.put(test_plugin_dir("versioned_v1") + "/versioned.so", "versioned.so");
  DaemonProcess daemon(options_for(database, dir, "thread"));
  REQUIRE_MESSAGE(daemon.wait_for_log("schedule versioned.report of plugin", 20s), daemon.log());
  const std::string defined =
      "SELECT origin || ' ' || args::text || ' ' || cron || ' ' || time_zone"
      " FROM pgtq.schedules WHERE name = 'versioned.report'";
  CHECK(scalar(connection, defined) == "plugin {\"built\": \"1\"} 0 3 29 2 * Europe/Berlin");
  CHECK(daemon.log().find("versioned.report of plugin versioned (versioned.so): created") !=
        std::string::npos);

  // A new version of the plugin ships new args: the schedule follows it.
  dir.put(test_plugin_dir("versioned_v2") + "/versioned.so", "versioned.so");
  REQUIRE_MESSAGE(reload(daemon, 2), daemon.log());
  REQUIRE_MESSAGE(
      daemon.wait_for_log("versioned.report of plugin versioned (versioned.so): updated", 10s),
      daemon.log());
  CHECK(scalar(connection, defined) == "plugin {\"built\": \"2\"} 0 3 29 2 * Europe/Berlin");

  // An operator's change is kept through a reload.
  query(connection, "SELECT pgtq.pause_schedule('versioned.report')");
  dir.put(test_plugin_dir("versioned_v1") + "/versioned.so", "versioned.so");
  REQUIRE_MESSAGE(reload(daemon, 3), daemon.log());
  REQUIRE_MESSAGE(daemon.wait_for_log("left as an operator changed it", 10s), daemon.log());
  CHECK(scalar(connection,
               "SELECT origin || ' ' || enabled || ' ' || args::text FROM pgtq.schedules") ==
        "operator false {\"built\": \"2\"}");

  // So is a deletion: the plugin does not bring it back.
  query(connection, "SELECT pgtq.delete_schedule('versioned.report')");
  REQUIRE_MESSAGE(reload(daemon, 4), daemon.log());
  REQUIRE_MESSAGE(daemon.wait_for_log("left as an operator deleted it", 10s), daemon.log());
  CHECK(count(connection, "SELECT count(*) FROM pgtq.schedules") == 0);
  CHECK(daemon.running());
}
