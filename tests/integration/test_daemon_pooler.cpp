// pgtqd behind a pooler in transaction mode (pgbouncer), where neither prepared statements
// nor LISTEN survive from one transaction to the next: polling finds the work, and every
// statement goes with its text.
#include "pgtq/client.hpp"
#include "support/daemon_process.hpp"
#include "support/sql.hpp"
#include "support/task_state.hpp"
#include "support/tcp_proxy.hpp"
#include "support/test_database.hpp"
#include "support/transaction_pooler.hpp"

#include <doctest/doctest.h>

#include <csignal>

using namespace pgtq;
using namespace pgtq::test;

TEST_CASE("behind pgbouncer in transaction mode pgtqd runs tasks with --no-prepared-statements") {
  TestDatabase database;
  db::Connection connection = database.connect();
  const std::string socket = unix_socket_of(database.dsn());
  TransactionPooler pooler(socket.substr(0, socket.rfind('/')));

  // The application pushes through the pooler too, inside its own transaction.
  db::Connection app(pooler.route(database.dsn()), "pgtq-test-app");
  app.run_script("BEGIN");
  const std::int64_t first = pgtq::push(app.native(), "default", "add_numbers", 1, 2);
  app.run_script("COMMIT");

  DaemonProcess daemon({.dsn = pooler.route(database.dsn()),
                        .extra_args = {"--no-prepared-statements",
                                       "--concurrency",
                                       "4",
                                       "--poll-interval",
                                       "0.2",
                                       "--scheduler-interval",
                                       "0.2"}});
  REQUIRE_MESSAGE(reaches(connection, std::to_string(first), "succeeded", 20s),
                  std::string(daemon.log() + pooler.log()));
  CHECK(field(connection, "result::text", std::to_string(first)) == "3");

  // The scheduler's work goes through the pooler as well: a delayed task and a retry.
  const std::string delayed =
      scalar(connection, "SELECT pgtq.push('default', 'add_numbers', '[2, 3]', delay => '0.3 s')");
  const std::string retried =
      scalar(connection, "SELECT pgtq.push('default', 'flaky', '{\"fail_times\": 1}')");
  std::vector<std::string> many;
  for (int i = 0; i < 50; ++i) {
    many.push_back(scalar(connection,
                          "SELECT pgtq.push('default', 'add_numbers', $1::jsonb)",
                          {"[" + std::to_string(i) + ", 1]"}));
  }
  CHECK_MESSAGE(reaches(connection, delayed, "succeeded", 20s), daemon.log());
  CHECK_MESSAGE(reaches(connection, retried, "succeeded", 20s), daemon.log());
  CHECK(field(connection, "attempts", retried) == "2");
  CHECK_MESSAGE(
      eventually([&] { return count(connection, "SELECT count(*) FROM pgtq.live_tasks") == 0; },
                 20s),
      daemon.log());
  CHECK(count(connection, "SELECT count(*) FROM pgtq.tasks WHERE state <> 'succeeded'") == 0);
  CHECK(daemon.log().find("prepared statement") == std::string::npos);

  daemon.signal(SIGTERM);
  const auto status = daemon.wait_exit(20s);
  REQUIRE(status.has_value());
  CHECK(WEXITSTATUS(*status) == 0);
}
