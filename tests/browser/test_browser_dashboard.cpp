// The dashboard in a real browser: this sets up a fresh database, pgtqd with the example
// plugins and pgtqctl web, then runs dashboard.test.mjs (headless Chromium through
// playwright-core), which does the clicking and checks the database through pgtqctl.
#include "support/daemon_process.hpp"
#include "support/role_logins.hpp"
#include "support/sql.hpp"
#include "support/test_database.hpp"

#include <doctest/doctest.h>

#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <regex>
#include <string>

using namespace pgtq;
using namespace pgtq::test;
using namespace std::chrono_literals;

TEST_CASE("dashboard: log in, watch a queue drain, retry a failed task, refused forged POSTs") {
  INFO("needs Debian's chromium (scripts/test.sh installs it) and node");
  REQUIRE(::access("/usr/bin/chromium", X_OK) == 0);
  TestDatabase database;
  db::Connection sql = database.connect();
  // pgtqctl web logs in as a role granted pgtq_operator and nothing else, and pgtqd as one
  // granted pgtq_worker: what the README tells operators to do, and proof that both need
  // nothing more.
  RoleLogins logins(database, {"pgtq_operator", "pgtq_worker"});
  const std::string web_dsn = logins.login_dsn(database, 0);

  // A paused queue: the browser resumes it and watches it drain. The first task claimed
  // (smallest priority) fails for good on its first attempt and succeeds on a retry.
  const std::string queue = "browser";
  query(sql, "SELECT pgtq.pause($1)", {queue});
  query(sql,
        "SELECT pgtq.push($1, 'flaky', '{\"fail_times\": 1}', priority => -1, max_attempts => 1)",
        {queue});
  for (int i = 0; i < 60; ++i) {
    query(sql, "SELECT pgtq.push($1, 'sleep', '[0.4]')", {queue});
  }
  const std::string victim = scalar(sql, "SELECT pgtq.push($1, 'echo', priority => 5)", {queue});
  query(sql, "SELECT pgtq.cancel($1::bigint)", {victim});

  DaemonProcess daemon({.dsn = logins.login_dsn(database, 1),
                        .queue = queue,
                        .extra_args = {"--concurrency", "2", "--prefetch", "0"}});
  const std::string password_file = "/tmp/pgtq-browser-" + std::to_string(::getpid()) + ".pw";
  const std::string password = "a browser test password";
  std::ofstream(password_file) << password << '\n';
  DaemonProcess web({.extra_args = {"web",
                                    "--dsn",
                                    web_dsn,
                                    "--listen",
                                    "127.0.0.1:0",
                                    "--password-file",
                                    password_file,
                                    "--refresh",
                                    "0",
                                    "--sample-interval",
                                    "1"},
                     .config_only = true,
                     .program = std::string(PGTQ_TEST_BINARY_DIR) + "/daemon/pgtqctl"});
  REQUIRE(web.wait_for_log("dashboard served at", 10s));
  std::smatch match;
  const std::string log = web.log();
  REQUIRE(std::regex_search(log, match, std::regex(R"((http://127\.0\.0\.1:\d+)/)")));

  ::setenv("PGTQ_WEB_URL", match[1].str().c_str(), 1);
  ::setenv("PGTQ_WEB_PASSWORD", password.c_str(), 1);
  ::setenv("PGTQ_TEST_QUEUE", queue.c_str(), 1);
  ::setenv("PGTQ_TEST_VICTIM_ID", victim.c_str(), 1);
  ::setenv("PGTQ_SCREENSHOT_DIR", PGTQ_BROWSER_OUTPUT_DIR, 1);
  ::setenv("PGTQ_CTL", (std::string(PGTQ_TEST_BINARY_DIR) + "/daemon/pgtqctl").c_str(), 1);
  ::setenv("PGTQ_CHECK_DSN", database.dsn().c_str(), 1);
  const std::string command =
      std::string("cd '") + PGTQ_BROWSER_NODE_DIR + "' && node dashboard.test.mjs 2>&1";
  const int status = std::system(command.c_str());
  std::remove(password_file.c_str());
  INFO("pgtqctl web said:\n" << web.log());
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  CHECK(scalar(sql, "SELECT state FROM pgtq.tasks WHERE id = $1::bigint", {victim}) == "cancelled");
}
