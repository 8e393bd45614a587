// A push joins the caller's transaction: invisible and silent until commit, gone on rollback.
#include "pgtq/client.hpp"
#include "support/sql.hpp"
#include "support/test_database.hpp"

#include <doctest/doctest.h>

#include <poll.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

using namespace pgtq;
using namespace std::chrono_literals;

namespace {

std::int64_t task_count(db::Connection& conn, const std::string& queue) {
  return conn.run_script("SELECT count(*) FROM pgtq.tasks WHERE queue = '" + queue + "'")
      .int64(0, 0);
}

// A listener that pushes notify: LISTENs and registers as an idle worker of each queue
// (pgtq.worker_idle), as a sleeping pgtqd does.
void listen_as_idle(db::Connection& listener, const std::vector<std::string>& queues) {
  listener.listen("pgtq_wakeup");
  for (const std::string& queue : queues) {
    listener.run_script("SELECT pgtq.worker_idle('" + queue + "', 'test')");
  }
}

// Notifications arrive in commit order, so once a later marker has arrived, anything an
// earlier transaction sent has arrived too: absence can be checked without sleeping.
std::vector<db::Notification> notifications_until(db::Connection& listener,
                                                  const std::string& marker_payload) {
  std::vector<db::Notification> received;
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < deadline) {
    for (db::Notification& note : listener.take_notifications()) {
      received.push_back(std::move(note));
    }
    if (std::any_of(received.begin(), received.end(), [&](const db::Notification& n) {
          return n.payload == marker_payload;
        })) {
      return received;
    }
    pollfd socket{listener.socket(), POLLIN, 0};
    ::poll(&socket, 1, 100);
  }
  FAIL("no notification with payload " << marker_payload << " within 10 s");
  return received;
}

long count_payload(const std::vector<db::Notification>& notes, const std::string& payload) {
  return std::count_if(notes.begin(), notes.end(), [&](const db::Notification& n) {
    return n.channel == "pgtq_wakeup" && n.payload == payload;
  });
}

} // namespace

TEST_CASE("a rolled back push leaves no task and wakes nobody") {
  test::TestDatabase database;
  db::Connection listener = database.connect();
  listen_as_idle(listener, {"rolled_back", "marker"});
  db::Connection app = database.connect();

  app.run_script("BEGIN");
  push(app.native(), "rolled_back", "t");
  push(app.native(), "rolled_back", "add_numbers", 2, 3);
  push_many(app.native(), "rolled_back", {{"a"}, {"b"}});
  CHECK(task_count(app, "rolled_back") == 4);
  app.run_script("ROLLBACK");

  push(app.native(), "marker", "t");
  const auto notes = notifications_until(listener, "marker");
  CHECK(count_payload(notes, "rolled_back") == 0);
  CHECK(task_count(app, "rolled_back") == 0);
}

TEST_CASE("a committed transaction of many pushes wakes each listener exactly once") {
  test::TestDatabase database;
  db::Connection listener = database.connect();
  listen_as_idle(listener, {"committed", "marker"});
  db::Connection app = database.connect();
  db::Connection other = database.connect();

  app.run_script("BEGIN");
  push(app.native(), "committed", "t");
  push(app.native(), "committed", "add_numbers", 2, 3);
  push_many(app.native(), "committed", {{"a"}, {"b"}});
  CHECK(task_count(other, "committed") == 0);
  CHECK(listener.take_notifications().empty());
  app.run_script("COMMIT");
  CHECK(task_count(other, "committed") == 4);

  push(app.native(), "marker", "t");
  const auto notes = notifications_until(listener, "marker");
  CHECK(count_payload(notes, "committed") == 1);
}

TEST_CASE("a delayed push does not wake the queue's workers") {
  test::TestDatabase database;
  db::Connection listener = database.connect();
  listen_as_idle(listener, {"delayed", "marker"});
  db::Connection app = database.connect();

  push(app.native(), "delayed", "t", {.delay = 1h});
  push(app.native(), "marker", "t");
  const auto notes = notifications_until(listener, "marker");
  CHECK(count_payload(notes, "delayed") == 0);
  CHECK(task_count(app, "delayed") == 1);
}

TEST_CASE("a push_many of only delayed tasks does not wake the queue's workers either") {
  test::TestDatabase database;
  db::Connection listener = database.connect();
  listen_as_idle(listener, {"delayed_bulk", "due_bulk", "marker"});
  listener.listen("pgtq_scheduled");
  // A scheduler asleep for a day: delayed pushes due sooner notify it.
  test::query(listener, "SELECT pgtq.scheduler_waiting('test', '1 day')");
  db::Connection app = database.connect();

  push_many(
      app.native(), "delayed_bulk", {{"a", args(), {.delay = 1h}}, {"b", args(), {.delay = 2h}}});
  push_many(app.native(), "due_bulk", {{"a"}, {"b", args(), {.delay = 1h}}});
  push(app.native(), "marker", "t");
  const auto notes = notifications_until(listener, "marker");
  CHECK(count_payload(notes, "delayed_bulk") == 0);
  CHECK(count_payload(notes, "due_bulk") == 1);
  const auto scheduled = std::count_if(notes.begin(), notes.end(), [](const db::Notification& n) {
    return n.channel == "pgtq_scheduled";
  });
  CHECK(scheduled == 2);
}
