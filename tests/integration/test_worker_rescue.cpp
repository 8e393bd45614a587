// Rescue without waiting out the lease (sql/schema/13_workers.sql, pgtq.sweep_gone_workers): the
// tasks of a worker whose lease session ended, and that has not registered from a new session
// within its grace, have their leases ended and are rescued by the next tick; a worker whose
// sessions were merely ended connects again, and none of its tasks runs twice (a claim whose
// answer a terminated session lost is rescued once its lease runs out: claimed twice, run once).
#include "support/daemon_process.hpp"
#include "support/ledger.hpp"
#include "support/sql.hpp"
#include "support/task_state.hpp"
#include "support/test_database.hpp"

#include <doctest/doctest.h>

#include <chrono>
#include <csignal>
#include <optional>
#include <string>
#include <thread>

using namespace pgtq;
using namespace pgtq::test;
using namespace std::chrono_literals;

namespace {

// Registers worker for queue "q" on connection, as pgtqd's lease keeper does; grace NULL:
// never rescued early. A sweep leaves a worker alone until its own session is older than the
// worker's heartbeat: 0.2 s here, unless told.
void register_worker(db::Connection& connection,
                     const std::string& worker,
                     const std::optional<std::string>& grace,
                     const std::string& heartbeat = "0.2 seconds",
                     const std::string& pid = "1") {
  query(connection,
        "SELECT pgtq.worker_seen($1, 'q', 'h', $4::integer, '1.0', 4, 'thread', $3::interval, "
        "now(), NULL, nullif($2, '')::interval)",
        {worker, grace.value_or(""), heartbeat, pid});
}

// A task of queue "q" claimed by worker now; returns its id.
std::string claimed_by(db::Connection& connection, const std::string& worker) {
  const std::string id = scalar(connection, "SELECT pgtq.push('q', 't')");
  REQUIRE(scalar(connection, "SELECT count(*) FROM pgtq.claim('q', '{t}', 1, $1)", {worker}) ==
          "1");
  REQUIRE(field(connection, "locked_by", id) == worker);
  return id;
}

long long sweep(db::Connection& connection) {
  return std::stoll(scalar(connection, "SELECT pgtq.sweep_gone_workers()"));
}

bool leased(db::Connection& connection, const std::string& id) {
  return scalar(connection,
                "SELECT locked_until > clock_timestamp() FROM pgtq.live_tasks WHERE id = $1",
                {id}) == "t";
}

// Registers worker on a session of its own that then ends; returns once its backend is gone.
void register_and_end(TestDatabase& database,
                      db::Connection& observer,
                      const std::string& worker,
                      const std::optional<std::string>& grace,
                      const std::string& heartbeat = "0.2 seconds",
                      const std::string& pgtqd_pid = "1") {
  std::string pid;
  {
    db::Connection session = database.connect();
    register_worker(session, worker, grace, heartbeat, pgtqd_pid);
    pid = scalar(session, "SELECT pg_backend_pid()");
  }
  REQUIRE(eventually(
      [&] {
        return count(observer,
                     "SELECT count(*) FROM pg_stat_activity WHERE pid = $1::integer",
                     {pid}) == 0;
      },
      10s));
}

} // namespace

TEST_CASE("sweep_gone_workers ends the leases a worker whose session ended held, after its grace, "
          "and only those it can prove") {
  TestDatabase database;
  db::Connection admin = database.connect();
  // The sweep that first finds a session gone notes it; one a grace later acts.
  register_and_end(database, admin, "gone", "1 second");
  register_and_end(database, admin, "patient", "1 hour");   // its grace has not passed
  register_and_end(database, admin, "never", std::nullopt); // no grace: never early
  register_and_end(database, admin, "back", "1 second");    // registers again from a session
  register_and_end(database, admin, "old", "1 second");     // of an earlier server run
  // Its heartbeat is longer than the sweeping session is old: after an outage that cut every
  // session, the sweep gives each worker a heartbeat to connect again.
  register_and_end(database, admin, "slow", "1 second", "1 hour");
  // Two pgtqd under one name: the row names the last one's session, the tasks are both's.
  // (A heartbeat of 2 s: not swept for three of them, and swept below once the sweeping
  // session is older than one.)
  {
    db::Connection first = database.connect();
    register_worker(first, "twin", "1 second", "2 seconds", "7");
    register_and_end(database, admin, "twin", "1 second", "2 seconds", "8");
  }
  // worker_seen runs as its owner: an owner that may not see the calling session's start (not
  // a superuser, not in pg_read_all_stats, not the session's role) records no session.
  const std::string role = "r_" + database.name();
  const std::string worker_seen = "pgtq.worker_seen(text, text, text, integer, text, integer, "
                                  "text, interval, timestamptz, text[], interval)";
  query(admin, "CREATE ROLE " + role + " NOLOGIN");
  query(admin, "GRANT USAGE ON SCHEMA pgtq TO " + role);
  query(admin, "GRANT INSERT, UPDATE, SELECT ON pgtq.workers TO " + role);
  query(admin, "GRANT EXECUTE ON FUNCTION pgtq.check_name(text, text) TO " + role);
  query(admin, "ALTER FUNCTION " + worker_seen + " OWNER TO " + role);
  {
    db::Connection session = database.connect();
    register_worker(session, "hidden", "1 second");
  }
  query(admin, "ALTER FUNCTION " + worker_seen + " OWNER TO CURRENT_USER");
  query(admin, "DROP OWNED BY " + role);
  query(admin, "DROP ROLE " + role);
  CHECK(scalar(admin, "SELECT session_pid IS NULL FROM pgtq.workers WHERE worker = 'hidden'") ==
        "t");
  query(admin,
        "UPDATE pgtq.workers SET server_started = server_started - interval '1 hour' "
        "WHERE worker = 'old'");
  db::Connection live = database.connect();
  register_worker(live, "live", "1 second");

  const std::string gone_a = claimed_by(admin, "gone");
  const std::string gone_b = claimed_by(admin, "gone");
  const std::string patient = claimed_by(admin, "patient");
  const std::string never = claimed_by(admin, "never");
  const std::string back = claimed_by(admin, "back");
  const std::string old = claimed_by(admin, "old");
  const std::string alive = claimed_by(admin, "live");
  const std::string slow = claimed_by(admin, "slow");
  const std::string twin = claimed_by(admin, "twin");
  REQUIRE(eventually(
      [&] {
        return scalar(admin,
                      "SELECT backend_start < clock_timestamp() - interval '2.1 seconds' "
                      "FROM pg_stat_activity WHERE pid = pg_backend_pid()") == "t";
      },
      10s));

  // The first sweep notes which sessions are gone, and ends nothing yet.
  CHECK(sweep(admin) == 0);
  CHECK(scalar(admin,
               "SELECT string_agg(worker, ',' ORDER BY worker) FROM pgtq.workers "
               "WHERE session_gone_at IS NOT NULL") == "back,gone,patient");
  // "back" writes its row from a live session before the grace is over; "gone" is still
  // working on a task claimed after the note, which must be another pgtqd's under its name.
  register_worker(live, "back", "1 second");
  const std::string later = claimed_by(admin, "gone");
  std::this_thread::sleep_for(1100ms); // the grace, from the note

  CHECK(sweep(admin) == 2);
  CHECK_FALSE(leased(admin, gone_a));
  CHECK_FALSE(leased(admin, gone_b));
  for (const std::string& id : {patient, never, back, old, alive, slow, twin, later}) {
    CHECK_MESSAGE(leased(admin, id), "task " << id);
  }
  // The tick rescues what the sweep ended, as any expired lease.
  CHECK(scalar(admin, "SELECT rescued FROM pgtq.tick()") == "2");
  CHECK(field(admin, "state", gone_a) == "queued");
  CHECK(field(admin, "errors->0->>'error'", gone_b).find("lease expired: worker gone") !=
        std::string::npos);
  // Nothing is left of that session to rescue.
  CHECK(sweep(admin) == 0);
  CHECK(leased(admin, later));
}

TEST_CASE("kill -9 of a pgtqd: its running tasks run again on another within seconds, not after "
          "their lease") {
  TestDatabase database;
  db::Connection connection = database.connect();
  // A lease of a minute: only the early rescue can bring the tasks back within the check.
  const std::vector<std::string> args = {
      "--lease", "60", "--concurrency", "2", "--prefetch", "0", "--log-level", "debug"};
  DaemonProcess victim({.dsn = database.dsn(), .extra_args = args});
  REQUIRE(victim.wait_for_log("listening as", 20s));
  const std::string first = scalar(connection, "SELECT pgtq.push('default', 'sleep', '[30]')");
  const std::string second = scalar(connection, "SELECT pgtq.push('default', 'sleep', '[30]')");
  REQUIRE_MESSAGE(victim.wait_for_log("task " + first + " (sleep) attempt 1/5 started", 20s),
                  victim.log());
  REQUIRE_MESSAGE(victim.wait_for_log("task " + second + " (sleep) attempt 1/5 started", 20s),
                  victim.log());
  DaemonProcess survivor({.dsn = database.dsn(), .extra_args = args});
  REQUIRE(survivor.wait_for_log("listening as", 20s));

  victim.signal(SIGKILL);
  REQUIRE(victim.wait_exit(10s).has_value());
  for (const std::string& id : {first, second}) {
    CHECK_MESSAGE(survivor.wait_for_log("task " + id + " (sleep) attempt 2/5 started", 20s),
                  survivor.log());
    CHECK(scalar(connection, "SELECT claims FROM pgtq.live_tasks WHERE id = $1", {id}) == "2");
    CHECK(field(connection, "errors->0->>'error'", id).find("lease expired") != std::string::npos);
  }
  CHECK(survivor.wait_for_log("ended the leases of", 1s));
}

TEST_CASE("a pgtqd whose database sessions are ended again and again connects again, and none of "
          "its tasks runs twice") {
  TestDatabase database;
  db::Connection connection = database.connect();
  create_ledger(connection);
  push_ledger_tasks(connection, 40, "{\"sleep_ms\": 600}");
  const DaemonProcess::Options options{
      .dsn = database.dsn(),
      .plugin_dirs = {test_plugin_dir("ledger")},
      .extra_args = {"--concurrency", "4", "--prefetch", "0", "--scheduler-interval", "0.2"},
      .env = {{"PGTQ_LEDGER_DSN", database.dsn()}}};
  DaemonProcess cut(options);
  REQUIRE(eventually([&] { return count(connection, "SELECT count(*) FROM ledger") >= 4; }, 30s));
  // Its sessions carry its pid in their worker name (host:pid).
  DaemonProcess other(options);
  const std::string sessions_of_cut =
      "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name LIKE "
      "'pgtqd:%' AND application_name LIKE $1";
  for (int round = 0; round < 5 && unfinished(connection) > 0; ++round) {
    query(connection, sessions_of_cut, {"%:" + std::to_string(cut.pid())});
    std::this_thread::sleep_for(700ms);
  }
  REQUIRE_MESSAGE(eventually([&] { return unfinished(connection) == 0; }, 60s),
                  cut.log() << other.log());
  CHECK(count(connection, "SELECT count(*) FROM pgtq.tasks WHERE state = 'succeeded'") == 40);
  CHECK(count(connection,
              "SELECT count(*) FROM (SELECT task_id FROM ledger GROUP BY task_id "
              "HAVING count(*) > 1) t") == 0);
  CHECK_MESSAGE(cut.log().find("connecting again") != std::string::npos, cut.log());
}

TEST_CASE("a pgtqd whose session ends and that cannot connect again stops its running task "
          "before its session grace is over, and goes on once it can") {
  TestDatabase database;
  db::Connection admin = database.connect();
  DaemonProcess daemon(
      {.dsn = database.dsn(), .extra_args = {"--log-level", "debug", "--session-grace", "2"}});
  REQUIRE(daemon.wait_for_log("listening as", 20s));
  const std::string id = scalar(admin, "SELECT pgtq.push('default', 'sleep', '[30]')");
  REQUIRE_MESSAGE(daemon.wait_for_log("task " + id + " (sleep) attempt 1/5 started", 20s),
                  daemon.log());
  REQUIRE(eventually(
      [&] {
        return count(admin, "SELECT count(*) FROM pgtq.workers WHERE session_pid IS NOT NULL") == 1;
      },
      10s));
  // Its sessions end, and new ones are refused: from the grace on, other pgtqd would rescue
  // the task, so it must have stopped it by then.
  const std::string database_name = "\"" + database.name() + "\"";
  db::Connection server(server_dsn(), "pgtq-test"); // not the database whose connections end
  query(server, "ALTER DATABASE " + database_name + " WITH ALLOW_CONNECTIONS false");
  query(admin,
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE datname = current_database() AND pid <> pg_backend_pid()");
  const auto ended = std::chrono::steady_clock::now();
  const bool stopped =
      daemon.wait_for_log("task " + id + ": this pgtqd's database session ended", 10s);
  const auto waited = std::chrono::steady_clock::now() - ended;
  query(server, "ALTER DATABASE " + database_name + " WITH ALLOW_CONNECTIONS true");
  REQUIRE_MESSAGE(stopped, daemon.log());
  MESSAGE("stopped after " << std::chrono::duration<double>(waited).count() << " s");
  CHECK_MESSAGE(daemon.wait_for_log("names this pgtqd's new session", 20s), daemon.log());
  // And it runs the task again (its stopped attempt is recorded, or the task given back).
  CHECK_MESSAGE(
      eventually(
          [&] {
            return scalar(admin, "SELECT claims FROM pgtq.live_tasks WHERE id = $1", {id}) == "2";
          },
          30s),
      daemon.log());
}
