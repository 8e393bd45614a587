// Delayed pushes wake the schedulers (sql/schema/09_wake_ups.sql): a delayed push notifies
// pgtq_scheduled only when a registered scheduler sleeps past its run_at, and none is lost:
// a delayed push that looked before pgtqd's scheduler registered still runs when it is due,
// not at the next tick.
#include "support/daemon_process.hpp"
#include "support/held_back.hpp"
#include "support/sql.hpp"
#include "support/task_state.hpp"
#include "support/test_database.hpp"

#include <doctest/doctest.h>
#include <libpq-fe.h>

#include <poll.h>

#include <chrono>
#include <string>

using namespace pgtq;
using namespace pgtq::test;

namespace {

// How many pgtq_scheduled notifications arrived before the wake-up of queue "marker" (the
// listener is registered as idle for it, and pushes it last): notifications arrive in commit
// order, so whatever an earlier transaction sent has arrived by then.
long scheduled_until_marker(db::Connection& listener, db::Connection& app) {
  query(app, "SELECT pgtq.push('marker', 't')");
  long scheduled = 0;
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < deadline) {
    for (const db::Notification& note : listener.take_notifications()) {
      if (note.channel == "pgtq_scheduled") {
        ++scheduled;
      } else if (note.channel == "pgtq_wakeup" && note.payload == "marker") {
        return scheduled;
      }
    }
    pollfd socket{listener.socket(), POLLIN, 0};
    ::poll(&socket, 1, 100);
  }
  FAIL("no wake-up for the marker within 10 s");
  return scheduled;
}

long long waiting_schedulers(db::Connection& connection) {
  return count(connection, "SELECT count(*) FROM pgtq.waiting_schedulers");
}

} // namespace

TEST_CASE("a delayed push notifies the schedulers only when one sleeps past its run_at, and "
          "always outside READ COMMITTED") {
  TestDatabase database;
  db::Connection listener = database.connect();
  listener.listen("pgtq_wakeup");
  listener.listen("pgtq_scheduled");
  query(listener, "SELECT pgtq.worker_idle('marker', 'test')");
  db::Connection app = database.connect();

  // No scheduler registered: nobody to wake.
  query(app, "SELECT pgtq.push('q', 't', delay => '1 minute')");
  CHECK(scheduled_until_marker(listener, app) == 0);

  CHECK(scalar(listener, "SELECT pgtq.scheduler_waiting('test', '10 minutes')") == "t");
  CHECK(scalar(listener, "SELECT pgtq.scheduler_waiting('test', '10 minutes')") == "f");
  CHECK(waiting_schedulers(app) == 1);
  // Due after the scheduler wakes: its tick finds the task.
  query(app, "SELECT pgtq.push('q', 't', delay => '1 hour')");
  query(app, "SELECT pgtq.push_many('q', '[{\"task\": \"t\", \"delay\": \"2 hours\"}]')");
  query(app, "SELECT pgtq.push_many('q', '{t}', '{NULL}', delays => '{1 hour}')");
  CHECK(scheduled_until_marker(listener, app) == 0);
  // Due before: one notification each.
  query(app, "SELECT pgtq.push('q', 't', delay => '1 minute')");
  query(app, "SELECT pgtq.push('q', 't', run_at => now() + interval '5 minutes')");
  query(app, "SELECT pgtq.push_many('q', '[{\"task\": \"t\", \"delay\": \"1 minute\"}]')");
  query(app, "SELECT pgtq.push_many('q', '{t,t}', '{NULL,NULL}', delays => '{1 hour,1 minute}')");
  CHECK(scheduled_until_marker(listener, app) == 4);
  // A retry scheduled later, by finish_many.
  query(app, "SELECT pgtq.push('retry', 't')");
  query(app, "CREATE TEMP TABLE c AS SELECT id, claim FROM pgtq.claim('retry', '{t}', 1, 'w')");
  query(app,
        "SELECT pgtq.finish_many(ARRAY[(SELECT id FROM c)], ARRAY[(SELECT claim FROM c)],"
        " '{retry}', '{NULL}', '{boom}', '{3600}')");
  CHECK(scheduled_until_marker(listener, app) == 0);
  query(app, "SELECT pgtq.push('retry', 't')");
  query(app, "DROP TABLE c");
  query(app, "CREATE TEMP TABLE c AS SELECT id, claim FROM pgtq.claim('retry', '{t}', 1, 'w')");
  query(app,
        "SELECT pgtq.finish_many(ARRAY[(SELECT id FROM c)], ARRAY[(SELECT claim FROM c)],"
        " '{retry}', '{NULL}', '{boom}', '{60}')");
  CHECK(scheduled_until_marker(listener, app) == 1);
  // Outside READ COMMITTED the push's snapshot may predate a registration: always notify.
  query(app, "BEGIN ISOLATION LEVEL REPEATABLE READ");
  query(app, "SELECT pgtq.push('q', 't', delay => '1 hour')");
  query(app, "COMMIT");
  CHECK(scheduled_until_marker(listener, app) == 1);
  // A rolled back push notifies nobody.
  query(app, "BEGIN");
  query(app, "SELECT pgtq.push('q', 't', delay => '1 minute')");
  query(app, "ROLLBACK");
  CHECK(scheduled_until_marker(listener, app) == 0);
}

TEST_CASE("delayed_pushes_in_flight lists an uncommitted delayed push until it ends, and no due "
          "one") {
  TestDatabase database;
  db::Connection app = database.connect();
  db::Connection other = database.connect();
  query(app, "BEGIN");
  query(app, "SELECT pgtq.push('q', 't')");
  CHECK(scalar(other, "SELECT pgtq.delayed_pushes_in_flight()::text") == "{}");
  query(app, "SELECT pgtq.push('q', 't', delay => '1 hour')");
  const std::string in_flight = scalar(other, "SELECT pgtq.delayed_pushes_in_flight()::text");
  CHECK(in_flight != "{}");
  CHECK(scalar(other, "SELECT pgtq.delayed_pushes_in_flight($1::text[])::text", {in_flight}) ==
        in_flight);
  CHECK(scalar(other, "SELECT pgtq.delayed_pushes_in_flight('{}')::text") == "{}");
  query(app, "COMMIT");
  CHECK(scalar(other, "SELECT pgtq.delayed_pushes_in_flight($1::text[])::text", {in_flight}) ==
        "{}");
}

TEST_CASE("with scheduler-interval at 60 s, a delayed task runs when it is due, also when its "
          "push looked before the scheduler registered") {
  TestDatabase database;
  db::Connection app = database.connect();
  // Pushed before any pgtqd runs: no scheduler is registered, so this push notifies nobody.
  query(app, "BEGIN");
  const std::string early =
      scalar(app, "SELECT pgtq.push('default', 'add_numbers', '[1, 2]', delay => '2 seconds')");
  DaemonProcess daemon({.dsn = database.dsn(), .extra_args = {"--scheduler-interval", "60"}});
  REQUIRE_MESSAGE(daemon.wait_for_log("listening as", 20s), daemon.log());
  db::Connection observer = database.connect();
  REQUIRE_MESSAGE(eventually([&] { return waiting_schedulers(observer) == 1; }, 10s), daemon.log());
  // The scheduler now waits for this push to end, then reads the next due time again.
  query(app, "COMMIT");
  CHECK_MESSAGE(reaches(observer, early, "succeeded", 10s), daemon.log());
  // Pushed while the scheduler sleeps for up to 60 s: it is woken for a task due sooner (a
  // notification acts a tenth of scheduler-interval after the last tick at the earliest).
  const std::string late =
      scalar(app, "SELECT pgtq.push('default', 'add_numbers', '[2, 2]', delay => '1 second')");
  CHECK_MESSAGE(reaches(observer, late, "succeeded", 20s), daemon.log());
}

TEST_CASE("a delayed push waiting for the push lock looks for schedulers after it gets it") {
  TestDatabase database;
  db::Connection listener = database.connect();
  listener.listen("pgtq_wakeup");
  listener.listen("pgtq_scheduled");
  query(listener, "SELECT pgtq.worker_idle('marker', 'test')");
  db::Connection holder = database.connect();
  db::Connection app = database.connect();
  for (const std::string push :
       {"SELECT pgtq.push('q', 't', delay => '1 minute')",
        "SELECT pgtq.push_many('q', '{t}', '{NULL}', delays => '{1 minute}')",
        "SELECT pgtq.push_many('q', '[{\"task\": \"t\", \"delay\": \"1 minute\"}]')"}) {
    CAPTURE(push);
    query(listener, "DELETE FROM pgtq.waiting_schedulers");
    // The delayed pushes' lock, held exclusively: the push waits for it, and the
    // registration commits meanwhile. It must see the registration once it has the lock.
    query(holder, "BEGIN");
    query(holder, "SELECT pg_advisory_xact_lock(1885828209, 64)");
    REQUIRE(PQsendQuery(app.native(), push.c_str()) == 1);
    REQUIRE(eventually(
        [&] {
          return count(holder,
                       "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
                       " AND objid = 64") == 1;
        },
        10s));
    query(listener, "SELECT pgtq.scheduler_waiting('test', '1 hour')");
    query(holder, "COMMIT");
    while (PGresult* result = PQgetResult(app.native())) {
      CHECK(PQresultStatus(result) == PGRES_TUPLES_OK);
      PQclear(result);
    }
    CHECK(scheduled_until_marker(listener, app) == 1);
  }
}

TEST_CASE("an open transaction that pushed a delayed task does not delay other delayed tasks, "
          "also one that ended between the scheduler's registration and its look at pg_locks") {
  TestDatabase database;
  db::Connection open_push = database.connect();
  db::Connection app = database.connect();
  db::Connection observer = database.connect();
  hold_back_writes(observer, "pgtq.waiting_schedulers");
  query(open_push, "BEGIN");
  query(open_push, "SELECT pgtq.push('other', 't', delay => '1 hour')");
  // The scheduler's registration waits until app ends (a trigger that sleeps while app holds
  // an advisory lock: no lock wait that lock_timeout could end), so that app's push looks
  // before the registration and commits before the scheduler reads who is in flight.
  query(app, "BEGIN");
  query(app, std::string("SELECT pg_advisory_xact_lock(") + k_hold_back_lock + ")");
  const std::string id =
      scalar(app, "SELECT pgtq.push('default', 'add_numbers', '[1, 2]', delay => '3 seconds')");
  DaemonProcess daemon({.dsn = database.dsn(), .extra_args = {"--scheduler-interval", "30"}});
  REQUIRE_MESSAGE(eventually([&] { return writes_held_back(observer) == 1; }, 20s), daemon.log());
  query(app, "COMMIT");
  // Due 3 s after its push; the next tick by the clock is up to 30 s away.
  CHECK_MESSAGE(reaches(observer, id, "succeeded", 10s), daemon.log());
  query(open_push, "ROLLBACK");
}

TEST_CASE("a scheduler whose registration row is locked by an operator keeps ticking") {
  TestDatabase database;
  DaemonProcess daemon({.dsn = database.dsn(), .extra_args = {"--scheduler-interval", "0.5"}});
  REQUIRE_MESSAGE(daemon.wait_for_log("listening as", 20s), daemon.log());
  db::Connection operator_session = database.connect();
  REQUIRE_MESSAGE(eventually([&] { return waiting_schedulers(operator_session) == 1; }, 10s),
                  daemon.log());
  query(operator_session, "BEGIN");
  query(operator_session, "SELECT * FROM pgtq.waiting_schedulers FOR UPDATE");
  db::Connection app = database.connect();
  const std::string id =
      scalar(app, "SELECT pgtq.push('default', 'add_numbers', '[1, 2]', delay => '1 second')");
  CHECK_MESSAGE(reaches(app, id, "succeeded", 6s), daemon.log());
  query(operator_session, "ROLLBACK");
  CHECK(daemon.log().find("could not register its sleep") != std::string::npos);
}
