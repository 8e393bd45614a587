// pgtqd's configuration, through the real binary: bad values stop it with exit 78 and a
// message naming file, line and key; precedence is command line > environment > file.
#include "app/config_options.hpp"
#include "support/bad_config_values.hpp"
#include "support/daemon_process.hpp"
#include "support/notify_socket.hpp"
#include "support/sql.hpp"
#include "support/task_state.hpp"
#include "support/test_database.hpp"

#include <doctest/doctest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <sstream>

using namespace pgtq;
using namespace pgtq::test;

namespace {

class TempConfig {
public:
  explicit TempConfig(const std::string& text) {
    static int serial = 0;
    m_path = "/tmp/pgtqd-test-config-" + std::to_string(::getpid()) + "-" +
             std::to_string(++serial) + ".conf";
    std::ofstream(m_path, std::ios::binary) << text;
  }
  ~TempConfig() { std::remove(m_path.c_str()); }
  TempConfig(const TempConfig&) = delete;
  TempConfig& operator=(const TempConfig&) = delete;
  const std::string& path() const { return m_path; }

private:
  std::string m_path;
};

struct Run {
  int exit_code = -1;
  std::string output;
};

// pgtqd started with these arguments and environment, expected to stop on its own.
Run run_pgtqd(std::vector<std::string> args, std::map<std::string, std::string> env = {}) {
  DaemonProcess daemon({.extra_args = std::move(args), .env = std::move(env), .config_only = true});
  const auto status = daemon.wait_exit(10s);
  REQUIRE_MESSAGE(status.has_value(), "pgtqd did not stop: " << daemon.log());
  return {WIFEXITED(*status) ? WEXITSTATUS(*status) : -1, daemon.log()};
}

std::string read_file(const std::string& path) {
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

} // namespace

TEST_CASE("every bad config value stops pgtqd with exit 78, naming the file, line and key") {
  int tried = 0;
  for (const BadConfigValue& bad : bad_config_values()) {
    const std::string head = std::string(bad.key == "queue" ? "#\n" : "queue = q\n") +
                             (bad.key == "plugin-dir" ? "#\n" : "plugin-dir = /nonexistent\n");
    const TempConfig config(head + bad.key + " = " + bad.value + "\n");
    CAPTURE(bad.key);
    CAPTURE(bad.value.substr(0, 60));
    const Run run = run_pgtqd({"--config", config.path()});
    CHECK(run.exit_code == 78);
    CHECK_MESSAGE(run.output.find(config.path() + " line 3") != std::string::npos, run.output);
    CHECK_MESSAGE(run.output.find(bad.key) != std::string::npos, run.output);
    ++tried;
  }
  CHECK(tried >= 60);
}

TEST_CASE("bad values from the environment and the command line name where they came from") {
  Run run = run_pgtqd({"--queue", "q"}, {{"PGTQ_WORKER_NAME", "two\nlines"}});
  CHECK(run.exit_code == 78);
  CHECK_MESSAGE(
      run.output.find("environment variable PGTQ_WORKER_NAME: worker-name: \"two\\x0alines\" "
                      "must not contain control characters") != std::string::npos,
      run.output);

  // 100 KiB: execve() takes at most 128 KiB per variable.
  run = run_pgtqd({"--queue", "q"}, {{"PGTQ_WORKER_NAME", std::string(100000, 'w')}});
  CHECK(run.exit_code == 78);
  CHECK(run.output.find("PGTQ_WORKER_NAME: worker-name: \"wwww") != std::string::npos);
  CHECK(run.output.find("(100000 bytes) is 100000 bytes long (allowed: 0 to 128 bytes)") !=
        std::string::npos);

  run = run_pgtqd({"--queue", "q", "--migrate=2"});
  CHECK(run.exit_code == 78);
  CHECK(run.output.find("command line option --migrate: migrate: \"2\" is not true or false") !=
        std::string::npos);

  run = run_pgtqd({"--queue", "q", "--scheduler-interval", "1e-9"});
  CHECK(run.exit_code == 78);
  CHECK(run.output.find("--scheduler-interval: scheduler-interval: \"1e-9\" is out of range") !=
        std::string::npos);

  run = run_pgtqd({"--queue", "q"}, {{"PGTQ_CONCURENCY", "4"}});
  CHECK(run.exit_code == 78);
  CHECK_MESSAGE(run.output.find("PGTQ_CONCURENCY (did you mean PGTQ_CONCURRENCY?)") !=
                    std::string::npos,
                run.output);
}

TEST_CASE("a dsn with spaces needs no quotes in the config file, and quotes keep a #") {
  TestDatabase database;
  db::Connection connection = database.connect();
  const TempConfig config("queue = default\n"
                          "dsn = " +
                          database.dsn() +
                          "   # spaces and all, no quotes\n"
                          "plugin-dir = " +
                          example_plugin_dir() +
                          "\n"
                          "worker-name = \"worker # 1\"\n");
  const std::string id = scalar(connection, "SELECT pgtq.push('default', 'add_numbers', '[1, 2]')");
  DaemonProcess daemon({.extra_args = {"--config", config.path()}, .config_only = true});
  REQUIRE_MESSAGE(reaches(connection, id, "succeeded"), daemon.log());
  CHECK(field(connection, "locked_by", id) == "worker # 1");
}

TEST_CASE("the command line overrides the environment, which overrides the config file") {
  TestDatabase database;
  db::Connection connection = database.connect();
  NotifySocket notify;
  const TempConfig config("queue = default\n"
                          "dsn = " +
                          database.dsn() +
                          "\n"
                          "plugin-dir = " +
                          example_plugin_dir() +
                          "\n"
                          "concurrency = 3\n"
                          "worker-name = from-file\n"
                          "prefetch = 1\n");
  const std::string id = scalar(connection, "SELECT pgtq.push('default', 'add_numbers', '[1, 2]')");
  DaemonProcess daemon({.extra_args = {"--config", config.path(), "--concurrency", "5"},
                        .env = {{"PGTQ_CONCURRENCY", "4"},
                                {"PGTQ_WORKER_NAME", "from-env"},
                                {"NOTIFY_SOCKET", notify.path()}},
                        .config_only = true});
  REQUIRE_MESSAGE(reaches(connection, id, "succeeded"), daemon.log());
  CHECK(field(connection, "locked_by", id) == "from-env"); // environment over file
  notify.read_until("READY=1", 15s);
  CHECK_MESSAGE(notify.received("workers busy"), daemon.log());
  CHECK_MESSAGE(notify.received("/5 workers busy"), daemon.log()); // command line over both
}

TEST_CASE("PGTQ_CONFIG names the config file when --config is not given") {
  TestDatabase database;
  db::Connection connection = database.connect();
  const TempConfig config("queue = default\n"
                          "dsn = " +
                          database.dsn() +
                          "\n"
                          "plugin-dir = " +
                          example_plugin_dir() +
                          "\n"
                          "worker-name = via-pgtq-config\n");
  const std::string id = scalar(connection, "SELECT pgtq.push('default', 'add_numbers', '[1, 2]')");
  DaemonProcess daemon({.env = {{"PGTQ_CONFIG", config.path()}}, .config_only = true});
  REQUIRE_MESSAGE(reaches(connection, id, "succeeded"), daemon.log());
  CHECK(field(connection, "locked_by", id) == "via-pgtq-config");
}

TEST_CASE("every option is in the README's option table and in the example config") {
  const std::string readme = read_file(std::string(PGTQ_TEST_SOURCE_DIR) + "/README.md");
  const std::string example =
      read_file(std::string(PGTQ_TEST_BINARY_DIR) + "/packaging/systemd/example.conf");
  REQUIRE_FALSE(readme.empty());
  REQUIRE_FALSE(example.empty());
  for (const app::OptionSpec& spec : app::option_table()) {
    const std::string name(spec.name);
    CAPTURE(name);
    CHECK(readme.find("| `" + name + "`") != std::string::npos);
    CHECK(example.find("\n#" + name + " = ") != std::string::npos);
  }
}

TEST_CASE("queue-weights without shared-workers, or naming a queue that is not shared, is a "
          "configuration error") {
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"--queue", "a, b", "--queue-weights", "a=3"},
        std::vector<std::string>{"--queue", "a, b=2", "--shared-workers", "--queue-weights", "b=3"},
        std::vector<std::string>{"--queue", "a", "--shared-workers", "--queue-weights", "c=3"},
        std::vector<std::string>{"--queue", "a", "--queue-weights", "a=0"}}) {
    const Run run = run_pgtqd(args);
    CAPTURE(run.output);
    CHECK(run.exit_code == 78);
    CHECK(run.output.find("queue-weights") != std::string::npos);
  }
}
