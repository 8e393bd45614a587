// The plugin directory rules (README "Plugin directory rules"): what pgtqd loads, what it
// refuses, that a refusal stops it unless plugin-load-errors = skip, that a stop request
// works at every stage of start-up, and that rewriting a loaded plugin's file cannot crash it.
#include "support/daemon_process.hpp"
#include "support/sql.hpp"
#include "support/task_state.hpp"
#include "support/test_database.hpp"

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

using namespace pgtq;
using namespace pgtq::test;
namespace fs = std::filesystem;

namespace {

// A fresh plugin directory (mode 0755) under /tmp with copies (mode 0644) of built plugins;
// removed at the end.
class PluginDir {
public:
  PluginDir() {
    char path[] = "/tmp/pgtq-plugin-dir-XXXXXX";
    REQUIRE(::mkdtemp(path) != nullptr);
    m_path = path;
    ::chmod(m_path.c_str(), 0755);
  }
  ~PluginDir() {
    std::error_code ignored;
    fs::remove_all(m_path, ignored);
  }
  PluginDir(const PluginDir&) = delete;
  PluginDir& operator=(const PluginDir&) = delete;

  const std::string& path() const { return m_path; }
  std::string operator/(const std::string& name) const { return m_path + "/" + name; }

  // Copies a built plugin in, under its own name or another.
  std::string add(const std::string& built, std::string name = "") {
    if (name.empty()) {
      name = fs::path(built).filename().string();
    }
    const std::string target = *this / name;
    fs::copy_file(built, target, fs::copy_options::overwrite_existing);
    ::chmod(target.c_str(), 0644);
    return target;
  }

private:
  std::string m_path;
};

std::string example(const std::string& name) {
  return example_plugin_dir() + "/" + name + ".so";
}
std::string broken(const std::string& scenario, const std::string& name) {
  return test_plugin_dir(scenario) + "/" + name + ".so";
}

// Starts pgtqd on dir and expects it to stop with exit 78; returns its output.
std::string refused_start(const std::string& dsn,
                          const std::string& dir,
                          std::vector<std::string> extra_args = {}) {
  DaemonProcess daemon({.dsn = dsn, .plugin_dirs = {dir}, .extra_args = std::move(extra_args)});
  const auto status = daemon.wait_exit(20s);
  REQUIRE_MESSAGE(status.has_value(), "pgtqd did not stop: " << daemon.log());
  CHECK_MESSAGE((WIFEXITED(*status) && WEXITSTATUS(*status) == 78), daemon.log());
  return daemon.log();
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

} // namespace

TEST_CASE("a plugin that cannot be loaded stops pgtqd with exit 78 naming the file") {
  TestDatabase database;
  PluginDir dir;
  dir.add(example("math"));
  SUBCASE("two plugins registering the same task name: both files are named") {
    dir.add(broken("duplicate", "math_dup"));
    const std::string log = refused_start(database.dsn(), dir.path());
    CHECK_MESSAGE(contains(log,
                           "math_dup.so: handler refused: task name \"add_numbers\" is "
                           "already registered by plugin \"math (math.so)\""),
                  log);
  }
  SUBCASE("a wrong ABI") {
    dir.add(broken("abi_v2", "abi_v2"));
    CHECK(contains(refused_start(database.dsn(), dir.path()), "abi_v2.so: ABI 2, pgtqd speaks 1"));
  }
  SUBCASE("no entry point") {
    dir.add(broken("no_entry", "no_entry"));
    CHECK(contains(refused_start(database.dsn(), dir.path()),
                   "no_entry.so: no pgtq_plugin_entry() exported"));
  }
  SUBCASE("a failing init()") {
    dir.add(broken("init_fails", "init_fails"));
    CHECK(contains(refused_start(database.dsn(), dir.path()), "init_fails.so: init() returned 1"));
  }
  SUBCASE("not a shared object at all") {
    std::ofstream(dir / "junk.so") << "not ELF";
    ::chmod((dir / "junk.so").c_str(), 0644);
    CHECK(contains(refused_start(database.dsn(), dir.path()), "junk.so: cannot load"));
  }
}

TEST_CASE("a refused plugin that stays mapped is not found again in place of the next file") {
  TestDatabase database;
  PluginDir dir;
  dir.add(broken("nodelete", "nodelete"), "a_nodelete.so"); // refused first, by name order
  dir.add(example("math"));
  DaemonProcess daemon({.dsn = database.dsn(),
                        .plugin_dirs = {dir.path()},
                        .extra_args = {"--plugin-load-errors", "skip"}});
  REQUIRE_MESSAGE(daemon.wait_for_log("listening as", 20s), daemon.log());
  CHECK_MESSAGE(contains(daemon.log(), "plugin \"a_nodelete.so\": init() returned 1"),
                daemon.log());
  CHECK_MESSAGE(contains(daemon.log(), "loaded plugin \"math\""), daemon.log());
  CHECK_FALSE_MESSAGE(contains(daemon.log(), "plugin \"math.so\": init() returned 1"),
                      daemon.log());
}

TEST_CASE("a FIFO named x.so neither hangs pgtqd nor is loaded") {
  TestDatabase database;
  db::Connection connection = database.connect();
  PluginDir dir;
  dir.add(example("math"));
  REQUIRE(::mkfifo((dir / "x.so").c_str(), 0644) == 0);
  CHECK(contains(refused_start(database.dsn(), dir.path()), "x.so: a FIFO, not a regular file"));

  // Skipped when asked to: the other plugins run.
  const std::string id = scalar(connection, "SELECT pgtq.push('default', 'add_numbers', '[1, 2]')");
  DaemonProcess daemon({.dsn = database.dsn(),
                        .plugin_dirs = {dir.path()},
                        .extra_args = {"--plugin-load-errors", "skip"}});
  REQUIRE_MESSAGE(reaches(connection, id, "succeeded"), daemon.log());
}

TEST_CASE("hidden files and names not ending in .so are not loaded") {
  TestDatabase database;
  db::Connection connection = database.connect();
  PluginDir dir;
  dir.add(example("math"));
  // Each would stop pgtqd if it were tried.
  dir.add(broken("bad_magic", "bad_magic"), ".hidden.so");
  dir.add(broken("bad_magic", "bad_magic"), ".#math.so");
  dir.add(broken("bad_magic", "bad_magic"), "math.so.orig");
  const std::string id = scalar(connection, "SELECT pgtq.push('default', 'add_numbers', '[1, 2]')");
  DaemonProcess daemon({.dsn = database.dsn(), .plugin_dirs = {dir.path()}});
  REQUIRE_MESSAGE(reaches(connection, id, "succeeded"), daemon.log());
  CHECK_FALSE(contains(daemon.log(), "hidden"));
  CHECK_FALSE(contains(daemon.log(), "bad magic"));
}

TEST_CASE(
    "a symlink out of the plugin directory is refused, and one to a file inside is followed") {
  TestDatabase database;
  db::Connection connection = database.connect();
  PluginDir dir;
  SUBCASE("out") {
    dir.add(example("math"));
    fs::create_symlink(example("echo"), dir / "echo.so");
    const std::string log = refused_start(database.dsn(), dir.path());
    CHECK_MESSAGE(contains(log,
                           "echo.so: a symlink to " + fs::canonical(example("echo")).string() +
                               ", outside the plugin directory"),
                  log);
    // A development machine may turn the checks off.
    const std::string id = scalar(connection, "SELECT pgtq.push('default', 'echo', '[\"hi\"]')");
    DaemonProcess daemon({.dsn = database.dsn(),
                          .plugin_dirs = {dir.path()},
                          .extra_args = {"--plugin-dir-checks", "off"}});
    REQUIRE_MESSAGE(reaches(connection, id, "succeeded"), daemon.log());
  }
  SUBCASE("inside, into a subdirectory") {
    fs::create_directory(dir / "lib");
    ::chmod((dir / "lib").c_str(), 0755);
    dir.add(example("math"), "lib/math.so.1");
    fs::create_symlink("lib/math.so.1", dir / "math.so");
    const std::string id =
        scalar(connection, "SELECT pgtq.push('default', 'add_numbers', '[1, 2]')");
    DaemonProcess daemon({.dsn = database.dsn(), .plugin_dirs = {dir.path()}});
    REQUIRE_MESSAGE(reaches(connection, id, "succeeded"), daemon.log());
  }
}

TEST_CASE("unsafe ownership or modes are refused as OpenSSH's StrictModes does") {
  TestDatabase database;
  PluginDir dir;
  const std::string math = dir.add(example("math"));
  SUBCASE("a world-writable directory") {
    ::chmod(dir.path().c_str(), 0777);
    const std::string log = refused_start(database.dsn(), dir.path());
    CHECK_MESSAGE(contains(log,
                           "plugin directory " + dir.path() +
                               " is writable by everyone "
                               "(mode 0777)"),
                  log);
  }
  SUBCASE("a group-writable plugin") {
    ::chmod(math.c_str(), 0664);
    CHECK(contains(refused_start(database.dsn(), dir.path()),
                   "math.so: is writable by its group (mode 0664)"));
  }
  SUBCASE("a writable directory above it, unless it has the sticky bit") {
    PluginDir outer;
    const std::string inner = outer / "plugins";
    fs::create_directory(inner);
    ::chmod(inner.c_str(), 0755);
    fs::copy_file(math, inner + "/math.so");
    ::chmod((inner + "/math.so").c_str(), 0644);
    ::chmod(outer.path().c_str(), 0777);
    CHECK(contains(refused_start(database.dsn(), inner),
                   "the directory " + outer.path() + " above it is writable by everyone"));
    ::chmod(outer.path().c_str(), 01777); // as /tmp
    DaemonProcess daemon({.dsn = database.dsn(), .plugin_dirs = {inner}});
    CHECK_MESSAGE(daemon.wait_for_log("listening as", 20s), daemon.log());
  }
  SUBCASE("a plugin owned by another user") {
    if (::geteuid() != 0) {
      MESSAGE("not root: cannot give a file to another user; ownership check not exercised");
      return;
    }
    REQUIRE(::chown(math.c_str(), 65534, 65534) == 0);
    CHECK(contains(refused_start(database.dsn(), dir.path()),
                   "math.so: is owned by uid 65534, neither root nor uid 0"));
  }
  SUBCASE("plugin-dir-checks = off loads it all the same") {
    ::chmod(dir.path().c_str(), 0777);
    ::chmod(math.c_str(), 0666);
    DaemonProcess daemon({.dsn = database.dsn(),
                          .plugin_dirs = {dir.path()},
                          .extra_args = {"--plugin-dir-checks", "off"}});
    CHECK_MESSAGE(daemon.wait_for_log("listening as", 20s), daemon.log());
  }
}

// In both isolation modes: in process mode the workers map the same private copies.
TEST_CASE("rewriting a loaded plugin's file in place does not crash pgtqd") {
  const auto rewrite_and_run = [](const std::string& mode) {
    TestDatabase database;
    db::Connection connection = database.connect();
    PluginDir dir;
    const std::string math = dir.add(example("math"));
    DaemonProcess daemon(
        {.dsn = database.dsn(), .plugin_dirs = {dir.path()}, .extra_args = {"--isolation", mode}});
    const std::string first =
        scalar(connection, "SELECT pgtq.push('default', 'add_numbers', '[1, 2]')");
    REQUIRE_MESSAGE(reaches(connection, first, "succeeded"), daemon.log());

    SUBCASE("truncated and filled with other bytes, as cp does") {
      const auto size = fs::file_size(math);
      const int fd = ::open(math.c_str(), O_WRONLY | O_TRUNC);
      REQUIRE(fd >= 0);
      const std::string garbage(size, '\xcc'); // int3 wherever code was
      REQUIRE(::write(fd, garbage.data(), garbage.size()) == static_cast<ssize_t>(garbage.size()));
      ::close(fd);
    }
    SUBCASE("another plugin copied over it") {
      fs::copy_file(example("echo"), math, fs::copy_options::overwrite_existing);
    }
    SUBCASE("truncated to nothing") {
      fs::resize_file(math, 0);
    }
    const std::string second =
        scalar(connection, "SELECT pgtq.push('default', 'add_numbers', '[2, 3]')");
    REQUIRE_MESSAGE(reaches(connection, second, "succeeded"), daemon.log());
    CHECK(field(connection, "result", second) == "5");
    CHECK(daemon.running());
  };
  SUBCASE("isolation = thread") {
    rewrite_and_run("thread");
  }
  SUBCASE("isolation = process") {
    rewrite_and_run("process");
  }
}

TEST_CASE("SIGTERM ends pgtqd promptly while a plugin's init() blocks") {
  TestDatabase database;
  DaemonProcess daemon({.dsn = database.dsn(), .plugin_dirs = {test_plugin_dir("slow_init")}});
  REQUIRE_MESSAGE(daemon.wait_for_log("init() blocks on purpose", 20s), daemon.log());
  daemon.signal(SIGTERM);
  const auto status = daemon.wait_exit(20s); // the init() would block for 10 minutes
  REQUIRE_MESSAGE(status.has_value(), daemon.log());
  CHECK(WIFEXITED(*status));
  CHECK(WEXITSTATUS(*status) == 0);
}

TEST_CASE("SIGTERM ends pgtqd promptly while it connects to a server that does not answer") {
  // A listening socket nobody accepts on: the kernel completes the TCP handshake and libpq
  // waits for the server's reply, forever with connect_timeout=0.
  const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  REQUIRE(listener >= 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0);
  REQUIRE(::listen(listener, 16) == 0);
  socklen_t length = sizeof address;
  REQUIRE(::getsockname(listener, reinterpret_cast<sockaddr*>(&address), &length) == 0);
  const std::string dsn = "host=127.0.0.1 port=" + std::to_string(ntohs(address.sin_port)) +
                          " dbname=none user=none connect_timeout=0";

  DaemonProcess daemon({.dsn = dsn});
  REQUIRE_MESSAGE(daemon.wait_for_log("handling tasks", 20s), daemon.log());
  daemon.signal(SIGTERM);
  const auto status = daemon.wait_exit(20s);
  REQUIRE_MESSAGE(status.has_value(), daemon.log());
  CHECK(WIFEXITED(*status));
  CHECK(WEXITSTATUS(*status) == 0);
  ::close(listener);
}
