// Wake-ups (sql/schema/09_wake_ups.sql): a push notifies only while a worker of its queue
// waits for it, and none is lost: a push that looked before a claim loop registered is
// claimed as soon as it commits, not at the next poll.
#include "support/daemon_process.hpp"
#include "support/held_back.hpp"
#include "support/sql.hpp"
#include "support/task_state.hpp"
#include "support/test_database.hpp"

#include <doctest/doctest.h>

#include <poll.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <string>
#include <vector>

using namespace pgtq;
using namespace pgtq::test;

namespace {

// The notifications on pgtq_wakeup up to and including one with payload "marker" (a queue
// the listener is registered for, pushed last): notifications arrive in commit order, so
// whatever an earlier transaction sent has arrived by then.
std::vector<std::string> wakeups_until_marker(db::Connection& listener) {
  std::vector<std::string> payloads;
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < deadline) {
    for (const db::Notification& note : listener.take_notifications()) {
      if (note.channel == "pgtq_wakeup") {
        payloads.push_back(note.payload);
      }
    }
    if (std::find(payloads.begin(), payloads.end(), "marker") != payloads.end()) {
      return payloads;
    }
    pollfd socket{listener.socket(), POLLIN, 0};
    ::poll(&socket, 1, 100);
  }
  FAIL("no wake-up for the marker within 10 s");
  return payloads;
}

long wakeups_of(const std::vector<std::string>& payloads, const std::string& queue) {
  return std::count(payloads.begin(), payloads.end(), queue);
}

long long idle_workers(db::Connection& connection, const std::string& queue) {
  return count(connection, "SELECT count(*) FROM pgtq.idle_workers WHERE queue = $1", {queue});
}

} // namespace

TEST_CASE("a push notifies only while a worker of its queue is registered as idle, and always "
          "outside READ COMMITTED") {
  TestDatabase database;
  db::Connection listener = database.connect();
  listener.listen("pgtq_wakeup");
  query(listener, "SELECT pgtq.worker_idle('marker', 'test')");
  db::Connection app = database.connect();
  const auto push_then_marker = [&](const std::string& sql) {
    query(app, sql);
    query(app, "SELECT pgtq.push('marker', 't')");
    return wakeups_until_marker(listener);
  };

  CHECK(wakeups_of(push_then_marker("SELECT pgtq.push('q', 't')"), "q") == 0);
  query(listener, "SELECT pgtq.worker_idle('q', 'test')");
  CHECK(idle_workers(app, "q") == 1);
  CHECK(wakeups_of(push_then_marker("SELECT pgtq.push('q', 't')"), "q") == 1);
  CHECK(wakeups_of(push_then_marker("SELECT pgtq.push_many('q', '[{\"task\": \"t\"}]')"), "q") ==
        1);
  query(listener, "SELECT pgtq.worker_busy('q')");
  CHECK(idle_workers(app, "q") == 0);
  CHECK(wakeups_of(push_then_marker("SELECT pgtq.push_many('q', '{t}', '{NULL}')"), "q") == 0);

  // A snapshot older than a registration cannot see it: such pushes always notify.
  query(app, "BEGIN ISOLATION LEVEL REPEATABLE READ");
  query(app, "SELECT pgtq.push('q', 't')");
  query(app, "COMMIT");
  CHECK(wakeups_of(push_then_marker("SELECT 1"), "q") == 1);

  // A registration whose session ended is removed by the scheduler's tick.
  {
    db::Connection gone = database.connect();
    query(gone, "SELECT pgtq.worker_idle('q', 'gone')");
  }
  REQUIRE(eventually(
      [&] {
        return count(app,
                     "SELECT count(*) FROM pg_stat_activity a, pgtq.idle_workers w"
                     " WHERE a.pid = w.pid AND w.worker = 'gone'") == 0;
      },
      10s));
  CHECK(idle_workers(app, "q") == 1);
  query(app, "SELECT pgtq.tick()");
  CHECK(idle_workers(app, "q") == 0);
  CHECK(idle_workers(app, "marker") == 1);

  // A tick in a transaction that read pg_stat_activity before a session registered still sees
  // that session: the list is read anew, not taken from earlier in the transaction.
  query(app, "BEGIN");
  query(app, "SELECT pgtq.tick()");
  db::Connection late = database.connect();
  CHECK(scalar(late, "SELECT pgtq.worker_idle('q', 'late')") == "t");
  CHECK(scalar(late, "SELECT pgtq.worker_idle('q', 'late')") == "f");
  query(app, "SELECT pgtq.tick()");
  query(app, "COMMIT");
  CHECK(idle_workers(app, "q") == 1);
}

TEST_CASE("a transaction pushing to many queues holds at most 64 push locks") {
  TestDatabase database;
  db::Connection app = database.connect();
  query(app, "BEGIN");
  query(app, "SELECT pgtq.push('queue_' || i, 't') FROM generate_series(1, 500) i");
  CHECK(count(app,
              "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'"
              " AND pid = pg_backend_pid() AND classid = 1885828209::oid") <= 64);
  query(app, "COMMIT");
  CHECK(count(app, "SELECT count(*) FROM pgtq.live_tasks") == 500);
}

TEST_CASE("pushes_in_flight lists an uncommitted push of the queue until it ends") {
  TestDatabase database;
  db::Connection app = database.connect();
  db::Connection other = database.connect();
  CHECK(scalar(other, "SELECT pgtq.pushes_in_flight('q')::text") == "{}");
  query(app, "BEGIN");
  query(app, "SELECT pgtq.push('q', 't')");
  const std::string in_flight = scalar(other, "SELECT pgtq.pushes_in_flight('q')::text");
  CHECK(in_flight != "{}");
  CHECK(scalar(other, "SELECT pgtq.pushes_in_flight('other')::text") == "{}");
  CHECK(scalar(other, "SELECT pgtq.pushes_in_flight('q', $1::text[])::text", {in_flight}) ==
        in_flight);
  query(app, "ROLLBACK");
  CHECK(scalar(other, "SELECT pgtq.pushes_in_flight('q', $1::text[])::text", {in_flight}) == "{}");
}

TEST_CASE("a push that looked for idle workers before pgtqd registered is claimed as soon as it "
          "commits, not at the next poll") {
  TestDatabase database;
  db::Connection app = database.connect();
  // Pushed before any pgtqd runs: nobody is registered, so this push will notify nobody.
  query(app, "BEGIN");
  const std::string id = scalar(app, "SELECT pgtq.push('default', 'add_numbers', '[1, 2]')");
  DaemonProcess daemon({.dsn = database.dsn(), .extra_args = {"--poll-interval", "600"}});
  REQUIRE_MESSAGE(daemon.wait_for_log("listening as", 20s), daemon.log());
  db::Connection observer = database.connect();
  REQUIRE_MESSAGE(eventually([&] { return idle_workers(observer, "default") == 1; }, 10s),
                  daemon.log());
  // pgtqd now waits for this push to end before it trusts notifications.
  query(app, "COMMIT");
  CHECK_MESSAGE(reaches(observer, id, "succeeded", 5s), daemon.log());
}

TEST_CASE("a push that ended between pgtqd's registration and its look at pg_locks is claimed at "
          "once, while another push stays open") {
  TestDatabase database;
  db::Connection open_push = database.connect();
  db::Connection app = database.connect();
  db::Connection observer = database.connect();
  hold_back_writes(observer, "pgtq.idle_workers");
  // Holds the queue's push lock to the end: pgtqd's registration never settles.
  query(open_push, "BEGIN");
  query(open_push, "SELECT pgtq.push('default', 'add_numbers', '[0, 0]')");
  // The registration waits until app ends, so that app's push looks before it (and notifies
  // nobody) and commits before pgtqd reads which pushes are in flight.
  query(app, "BEGIN");
  query(app, std::string("SELECT pg_advisory_xact_lock(") + k_hold_back_lock + ")");
  const std::string id = scalar(app, "SELECT pgtq.push('default', 'add_numbers', '[1, 2]')");
  DaemonProcess daemon({.dsn = database.dsn(), .extra_args = {"--poll-interval", "600"}});
  REQUIRE_MESSAGE(eventually([&] { return writes_held_back(observer) == 1; }, 20s), daemon.log());
  query(app, "COMMIT");
  CHECK_MESSAGE(reaches(observer, id, "succeeded", 5s), daemon.log());
  query(open_push, "ROLLBACK");
}

TEST_CASE("a busy pgtqd leaves idle_workers, so pushes stop notifying, and registers again "
          "once idle") {
  TestDatabase database;
  db::Connection connection = database.connect();
  DaemonProcess daemon(
      {.dsn = database.dsn(), .extra_args = {"--concurrency", "1", "--prefetch", "0"}});
  REQUIRE_MESSAGE(daemon.wait_for_log("listening as", 20s), daemon.log());
  REQUIRE_MESSAGE(eventually([&] { return idle_workers(connection, "default") == 1; }, 10s),
                  daemon.log());
  // Every claim takes the one slot's worth while more wait: full batches for over a second.
  std::vector<std::string> ids;
  for (int i = 0; i < 6; ++i) {
    ids.push_back(scalar(connection, "SELECT pgtq.push('default', 'sleep', '[0.25]')"));
  }
  CHECK_MESSAGE(eventually([&] { return idle_workers(connection, "default") == 0; }, 10s),
                daemon.log());
  db::Connection listener = database.connect();
  listener.listen("pgtq_wakeup");
  query(listener, "SELECT pgtq.worker_idle('marker', 'test')");
  if (idle_workers(connection, "default") == 0) {
    query(connection, "SELECT pgtq.push('default', 'add_numbers', '[1, 2]')");
    query(connection, "SELECT pgtq.push('marker', 't')");
    CHECK(wakeups_of(wakeups_until_marker(listener), "default") == 0);
  }
  for (const std::string& id : ids) {
    REQUIRE_MESSAGE(reaches(connection, id, "succeeded", 20s), daemon.log());
  }
  CHECK_MESSAGE(eventually([&] { return idle_workers(connection, "default") == 1; }, 10s),
                daemon.log());
  // Registered again: a push is picked up at once.
  const std::string late =
      scalar(connection, "SELECT pgtq.push('default', 'add_numbers', '[2, 2]')");
  CHECK_MESSAGE(reaches(connection, late, "succeeded", 5s), daemon.log());
}

TEST_CASE("pgtqd registers again at its next poll when its registration was deleted, leaves when "
          "it stops, and does not register with prepared statements off") {
  TestDatabase database;
  db::Connection connection = database.connect();
  {
    DaemonProcess daemon({.dsn = database.dsn(), .extra_args = {"--poll-interval", "0.5"}});
    REQUIRE_MESSAGE(eventually([&] { return idle_workers(connection, "default") == 1; }, 20s),
                    daemon.log());
    query(connection, "DELETE FROM pgtq.idle_workers");
    CHECK_MESSAGE(daemon.wait_for_log("row in pgtq.idle_workers was gone", 10s), daemon.log());
    CHECK(idle_workers(connection, "default") == 1);
    daemon.signal(SIGTERM);
    REQUIRE(daemon.wait_exit(20s).has_value());
    // Left on the way out, not only when a tick finds its session gone.
    CHECK(idle_workers(connection, "default") == 0);
  }
  DaemonProcess unprepared({.dsn = database.dsn(),
                            .extra_args = {"--no-prepared-statements", "--poll-interval", "0.5"}});
  const std::string id = scalar(connection, "SELECT pgtq.push('default', 'add_numbers', '[1, 2]')");
  REQUIRE_MESSAGE(reaches(connection, id, "succeeded", 20s), unprepared.log());
  CHECK(idle_workers(connection, "default") == 0);
}
