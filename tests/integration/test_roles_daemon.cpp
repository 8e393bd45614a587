// pgtqd under the least-privileged role (sql/schema/22_roles.sql): it works with pgtq_worker's
// rights alone, stops with exit 78 naming what it lacks otherwise, and claims only from the
// queues pgtq.set_claim_queues leaves it.
#include "support/daemon_process.hpp"
#include "support/http_get.hpp"
#include "support/role_logins.hpp"
#include "support/sql.hpp"
#include "support/task_state.hpp"
#include "support/test_database.hpp"

#include <doctest/doctest.h>
#include <libpq-fe.h>

#include <sys/wait.h>

#include <regex>
#include <string>

using namespace pgtq;
using namespace pgtq::test;

namespace {

// The SQLSTATE and message a statement fails with ("" when it succeeds).
std::string failure(db::Connection& connection, const std::string& sql) {
  PGresult* result = PQexec(connection.native(), sql.c_str());
  std::string failed;
  if (PQresultStatus(result) != PGRES_TUPLES_OK && PQresultStatus(result) != PGRES_COMMAND_OK) {
    failed = std::string(PQresultErrorField(result, PG_DIAG_SQLSTATE)) + " " +
             PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY);
  }
  PQclear(result);
  return failed;
}

int exit_code(DaemonProcess& daemon) {
  const std::optional<int> status = daemon.wait_exit(20s);
  REQUIRE_MESSAGE(status.has_value(), daemon.log());
  REQUIRE(WIFEXITED(*status));
  return WEXITSTATUS(*status);
}

} // namespace

TEST_CASE("pgtqd with pgtq_worker's rights alone runs tasks, its scheduler and its metrics, "
          "and a pusher with pgtq_pusher's pushes them") {
  TestDatabase database;
  db::Connection owner = database.connect();
  RoleLogins logins(database, {"pgtq_worker", "pgtq_pusher"});
  db::Connection& pusher = logins.connection(1);
  const std::string now = scalar(pusher, "SELECT pgtq.push('default', 'add_numbers', '[2, 3]')");
  // Promoted by the scheduler's tick, a second later.
  const std::string later =
      scalar(pusher, "SELECT pgtq.push('default', 'add_numbers', '[1, 1]', delay => '1 second')");
  // Fails once and is retried by the tick after its backoff.
  const std::string flaky = scalar(pusher, "SELECT pgtq.push('default', 'flaky', '[1]')");

  DaemonProcess daemon(
      {.dsn = logins.login_dsn(database, 0), .extra_args = {"--metrics-listen", "127.0.0.1:0"}});
  REQUIRE_MESSAGE(reaches(owner, now, "succeeded"), daemon.log());
  REQUIRE_MESSAGE(reaches(owner, later, "succeeded"), daemon.log());
  REQUIRE_MESSAGE(reaches(owner, flaky, "succeeded", 20s), daemon.log());
  CHECK(scalar(owner, "SELECT attempts FROM pgtq.tasks WHERE id = $1", {flaky}) == "2");
  // The registry names the worker's session (the owner, a superuser here, sees it).
  CHECK(scalar(owner, "SELECT count(*) FROM pgtq.workers WHERE session_pid IS NOT NULL") == "1");

  REQUIRE(daemon.wait_for_log("metrics served at", 10s));
  std::smatch match;
  const std::string log = daemon.log();
  REQUIRE(std::regex_search(log, match, std::regex(R"(127\.0\.0\.1:(\d+)/metrics)")));
  const HttpReply page =
      http_request(static_cast<std::uint16_t>(std::stoi(match[1].str())), "/metrics");
  CHECK(page.status == 200);
  CHECK_MESSAGE(page.body.find("pgtq_queue_tasks{queue=\"default\",state=\"queued\"} 0") !=
                    std::string::npos,
                page.body);
  CHECK(daemon.log().find("permission denied") == std::string::npos);
  CHECK(daemon.log().find("42501") == std::string::npos);

  // The pusher reads nothing and writes no table: only pgtq's functions.
  CHECK(scalar(pusher, "SELECT state FROM pgtq.task_status($1)", {now}) == "succeeded");
}

TEST_CASE("pgtqd under a role without pgtq_worker's rights exits 78 naming what it lacks, "
          "before it claims anything") {
  TestDatabase database;
  db::Connection owner = database.connect();
  const std::string id = scalar(owner, "SELECT pgtq.push('default', 'add_numbers', '[2, 3]')");
  RoleLogins logins(database, {"pgtq_reader", ""});

  DaemonProcess reader({.dsn = logins.login_dsn(database, 0)});
  CHECK(exit_code(reader) == 78);
  CHECK_MESSAGE(reader.log().find("role " + logins.login(0) +
                                  " lacks EXECUTE on pgtq.apply_retention(integer,boolean), "
                                  "EXECUTE on pgtq.claim(text,text[],integer,text,interval)") !=
                    std::string::npos,
                reader.log());
  CHECK(reader.log().find("GRANT pgtq_worker TO " + logins.login(0)) != std::string::npos);

  DaemonProcess nobody({.dsn = logins.login_dsn(database, 1)});
  CHECK(exit_code(nobody) == 78);
  CHECK_MESSAGE(nobody.log().find("role " + logins.login(1) +
                                  " may not use the schema pgtq (USAGE)") != std::string::npos,
                nobody.log());
  CHECK(field(owner, "state", id) == "queued");
}

TEST_CASE("a role given claim queues claims from those only, and pgtqd serving another "
          "queue under it exits 78 naming the queue") {
  TestDatabase database;
  db::Connection owner = database.connect();
  const std::string mail = scalar(owner, "SELECT pgtq.push('mail', 'add_numbers', '[1, 2]')");
  const std::string other = scalar(owner, "SELECT pgtq.push('default', 'add_numbers', '[1, 2]')");
  RoleLogins logins(database, {"pgtq_worker", "pgtq_worker"});
  const std::string role = logins.login(0);
  query(owner, "SELECT pgtq.set_claim_queues($1, '{mail,images}')", {role});
  db::Connection& worker = logins.connection(0);

  const std::string refused =
      "42501 pgtq.claim: role " + role + " may not claim from queue \"default\"";
  CHECK(failure(worker, "SELECT * FROM pgtq.claim('default', '{add_numbers}', 1, 'w')") == refused);
  CHECK(failure(worker, "SELECT * FROM pgtq.pop('default', '{add_numbers}', 1, 'w')") == refused);
  CHECK(field(owner, "state", other) == "queued");
  // SET ROLE to the restricted role is restricted too; the other worker login is not.
  CHECK(failure(logins.connection(1), "SELECT * FROM pgtq.claim('default', '{x}', 1, 'w')") == "");
  // SET ROLE to a role without a limit does not lift the login's.
  CHECK(failure(worker, "SET ROLE pgtq_worker; SELECT * FROM pgtq.claim('default', '{x}', 1, 'w')")
            .rfind("42501 pgtq.claim: role " + role + " may not claim from queue", 0) == 0);
  query(worker, "RESET ROLE");
  // Nor can it read the claim tokens of the tasks that other workers run.
  CHECK(failure(worker, "SELECT claim FROM pgtq.live_tasks").rfind("42501 ", 0) == 0);
  query(owner, "GRANT " + role + " TO " + logins.login(1));
  CHECK(failure(logins.connection(1),
                "SET ROLE " + role + "; SELECT * FROM pgtq.claim('default', '{x}', 1, 'w')") ==
        refused);

  DaemonProcess refused_daemon({.dsn = logins.login_dsn(database, 0), .queue = "mail,default"});
  CHECK(exit_code(refused_daemon) == 78);
  CHECK_MESSAGE(refused_daemon.log().find("role " + role + " may not claim from queue default") !=
                    std::string::npos,
                refused_daemon.log());
  CHECK(field(owner, "state", mail) == "queued");

  DaemonProcess allowed({.dsn = logins.login_dsn(database, 0), .queue = "mail"});
  CHECK_MESSAGE(reaches(owner, mail, "succeeded"), allowed.log());

  // NULL lifts the restriction.
  query(owner, "SELECT pgtq.set_claim_queues($1, NULL)", {role});
  CHECK(failure(worker, "SELECT * FROM pgtq.claim('default', '{x}', 1, 'w')") == "");
}

TEST_CASE("pgtq.set_claim_queues refuses a NULL or unknown role, a bad queue name and more "
          "than 1000 queues, and changes nothing then") {
  TestDatabase database;
  db::Connection owner = database.connect();
  query(owner, "SELECT pgtq.set_claim_queues('postgres', '{a,b,a}')");
  CHECK(scalar(owner, "SELECT queues::text FROM pgtq.claim_queues WHERE role = 'postgres'") ==
        "{a,b}");
  CHECK(failure(owner, "SELECT pgtq.set_claim_queues(NULL, '{a}')") ==
        "22004 pgtq.set_claim_queues: role must not be NULL");
  CHECK(failure(owner, "SELECT pgtq.set_claim_queues('no_such_role_here', '{a}')") ==
        "42704 pgtq.set_claim_queues: role \"no_such_role_here\" does not exist");
  CHECK(failure(owner, "SELECT pgtq.set_claim_queues('postgres', '{a,\"b c\"}')")
            .rfind("22023 pgtq.set_claim_queues: queues must hold queue names", 0) == 0);
  CHECK(failure(owner, "SELECT pgtq.set_claim_queues('postgres', ARRAY['a', NULL])")
            .rfind("22023 ", 0) == 0);
  CHECK(failure(owner,
                "SELECT pgtq.set_claim_queues('postgres', array_fill('a'::text, ARRAY[1001]))") ==
        "54000 pgtq.set_claim_queues: queues holds 1001 names, the limit is 1000");
  CHECK(scalar(owner, "SELECT queues::text FROM pgtq.claim_queues WHERE role = 'postgres'") ==
        "{a,b}");
  query(owner, "SELECT pgtq.set_claim_queues('postgres', NULL)");
}
