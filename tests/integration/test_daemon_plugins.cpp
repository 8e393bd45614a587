// pgtqd with plugins that misbehave: each is refused or contained. A plugin that cannot be
// loaded stops pgtqd (tests/integration/test_plugin_dir_rules.cpp); the refusal tests here
// opt into plugin-load-errors = skip to see the others load all the same.
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
#include <thread>

using namespace pgtq;
using namespace pgtq::test;

TEST_CASE("with plugin-load-errors = skip, plugins with a wrong ABI, magic or entry are refused "
          "and the others load") {
  TestDatabase database;
  db::Connection connection = database.connect();
  const std::string id = push_to_default(connection, "add_numbers", "[20, 22]");
  DaemonProcess daemon({.dsn = database.dsn(),
                        .plugin_dirs = {example_plugin_dir(),
                                        test_plugin_dir("abi_v2"),
                                        test_plugin_dir("bad_magic"),
                                        test_plugin_dir("no_entry"),
                                        test_plugin_dir("init_fails")},
                        .extra_args = {"--plugin-load-errors", "skip"}});
  REQUIRE_MESSAGE(reaches(connection, id, "succeeded"), daemon.log());
  CHECK(field(connection, "result", id) == "42");
  const std::string log = daemon.log();
  CHECK_MESSAGE(log.find("plugin \"abi_v2.so\": ABI 2, pgtqd speaks 1") != std::string::npos, log);
  CHECK_MESSAGE(log.find("plugin \"bad_magic.so\": not a pgtq plugin") != std::string::npos, log);
  CHECK_MESSAGE(log.find("plugin \"no_entry.so\": no pgtq_plugin_entry() exported") !=
                    std::string::npos,
                log);
  CHECK_MESSAGE(log.find("init() returned") != std::string::npos, log);
  // What a refused plugin registered is not used: its task stays queued.
  const std::string orphan = push_to_default(connection, "init_fails", "[]");
  std::this_thread::sleep_for(500ms);
  CHECK(field(connection, "state", orphan) == "queued");
}

TEST_CASE("with plugin-load-errors = skip, a duplicate task name is refused with a message "
          "naming both plugins") {
  TestDatabase database;
  db::Connection connection = database.connect();
  DaemonProcess daemon({.dsn = database.dsn(),
                        .plugin_dirs = {test_plugin_dir("duplicate")},
                        .extra_args = {"--plugin-load-errors", "skip"}});
  REQUIRE_MESSAGE(daemon.wait_for_log("listening as", 10s), daemon.log());
  const std::string log = daemon.log();
  CHECK_MESSAGE(log.find("task name \"add_numbers\" is already registered by plugin") !=
                    std::string::npos,
                log);
  const std::string id = push_to_default(connection, "add_numbers", "[1, 2]");
  REQUIRE_MESSAGE(reaches(connection, id, "succeeded"), daemon.log());
  CHECK(field(connection, "result", id) == "3");
  // The refused plugin is left out whole: what else it registered does not run either.
  CHECK_MESSAGE(log.find("math_dup.so\": handler refused") != std::string::npos, log);
  CHECK(log.find("handling tasks: add_numbers, greet, mean\n") != std::string::npos);
}

TEST_CASE("a handler that throws fails the attempt with the exception's message") {
  TestDatabase database;
  db::Connection connection = database.connect();
  const std::string runtime = push_to_default(connection, "throw_runtime", "[]", "1");
  const std::string thrown_int = push_to_default(connection, "throw_int", "[]", "1");
  DaemonProcess daemon({.dsn = database.dsn(), .plugin_dirs = {test_plugin_dir("throws")}});
  REQUIRE_MESSAGE(reaches(connection, runtime, "failed"), daemon.log());
  REQUIRE_MESSAGE(reaches(connection, thrown_int, "failed"), daemon.log());
  CHECK(field(connection, "last_error", runtime).find("boom") != std::string::npos);
  CHECK(!field(connection, "last_error", thrown_int).empty());
  CHECK(daemon.running());
}

TEST_CASE("a handler returning an unknown status fails the task permanently") {
  TestDatabase database;
  db::Connection connection = database.connect();
  const std::string id = push_to_default(connection, "bad_status", "[]");
  DaemonProcess daemon({.dsn = database.dsn(), .plugin_dirs = {test_plugin_dir("bad_status")}});
  REQUIRE_MESSAGE(reaches(connection, id, "failed"), daemon.log());
  CHECK(field(connection, "attempts", id) == "1");
  CHECK(field(connection, "last_error", id).find("unknown status 42") != std::string::npos);
}

TEST_CASE("isolation = thread: a plugin that crashes pgtqd loses no task: its lease expires "
          "and it is rescued") {
  TestDatabase database;
  db::Connection connection = database.connect();
  const std::string id = push_to_default(connection, "crash", "{\"how\": \"segv\"}", "3");
  {
    DaemonProcess doomed(
        {.dsn = database.dsn(),
         .plugin_dirs = {test_plugin_dir("crash")},
         .extra_args = {"--isolation", "thread", "--lease", "2", "--heartbeat", "0.5"}});
    const auto status = doomed.wait_exit(20s);
    REQUIRE_MESSAGE(status.has_value(), doomed.log());
    CHECK(WIFSIGNALED(*status));
    CHECK_MESSAGE(doomed.log().find("while running task " + id + " (crash) attempt 1") !=
                      std::string::npos,
                  doomed.log());
  }
  CHECK(field(connection, "state", id) == "running");
  // Another daemon, without the crashing handler, rescues it once the lease has expired.
  DaemonProcess rescuer({.dsn = database.dsn(), .extra_args = {"--scheduler-interval", "0.2"}});
  REQUIRE_MESSAGE(reaches(connection, id, "queued"), rescuer.log());
  CHECK(field(connection, "attempts", id) == "1");
  CHECK(field(connection, "last_error", id).find("lease expired") != std::string::npos);
}

TEST_CASE("a plugin gets NAME.conf from plugin-config-dir as its config") {
  TestDatabase database;
  db::Connection connection = database.connect();
  const std::string dir = "/tmp/pgtqd-test-plugin-config-" + std::to_string(::getpid());
  std::filesystem::create_directories(dir);

  SUBCASE("a config file for the plugin") {
    std::ofstream(dir + "/configured.conf") << R"({"smtp": "localhost", "port": 25})";
    std::ofstream(dir + "/other.conf") << "not for this plugin";
    const std::string id = push_to_default(connection, "plugin_config", "[]");
    DaemonProcess daemon({.dsn = database.dsn(),
                          .plugin_dirs = {test_plugin_dir("configured")},
                          .extra_args = {"--plugin-config-dir", dir}});
    REQUIRE_MESSAGE(reaches(connection, id, "succeeded"), daemon.log());
    CHECK(field(connection, "result::text", id) == R"({"port": 25, "smtp": "localhost"})");
    CHECK(daemon.log().find("config from " + dir + "/configured.conf") != std::string::npos);
  }
  SUBCASE("no config file: an empty config") {
    const std::string id = push_to_default(connection, "plugin_config", "[]");
    DaemonProcess daemon({.dsn = database.dsn(),
                          .plugin_dirs = {test_plugin_dir("configured")},
                          .extra_args = {"--plugin-config-dir", dir}});
    REQUIRE_MESSAGE(reaches(connection, id, "succeeded"), daemon.log());
    CHECK(field(connection, "result::text", id) == "null");
  }
  std::filesystem::remove_all(dir);
}
