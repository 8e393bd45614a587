// The wake-up on its own, against a real database: coalescing notifications, the payload
// filter, the gap after hold_back(), notifications read along with a result, the poll timer
// and interrupts.
#include "queue/wake_up.hpp"
#include "support/daemon_process.hpp"
#include "support/sql.hpp"
#include "support/test_database.hpp"

#include <doctest/doctest.h>

#include <thread>
#include <vector>

using namespace pgtq;
using namespace pgtq::test;
using queue::Duration;
using queue::WakeUp;
using Clock = WakeUp::Clock;

namespace {

WakeUp::Settings settings(Duration min_gap, Duration poll_interval = std::chrono::hours(1)) {
  return {
      .channel = "pgtq_wakeup", .payload = "q", .poll_interval = poll_interval, .min_gap = min_gap};
}

// Waits (WakeUp::wait) until a wake-up is due and takes it; false after `timeout`.
bool woken_within(WakeUp& wake_up, db::Connection& listening, std::chrono::seconds timeout) {
  const auto until = Clock::now() + timeout;
  wake_up.take(listening);
  while (!wake_up.take_pending()) {
    if (Clock::now() >= until) {
      return false;
    }
    wake_up.wait(&listening, until);
  }
  return true;
}

} // namespace

TEST_CASE("the wake-up coalesces many notifications into one wake-up") {
  TestDatabase database;
  db::Connection listening = database.connect();
  db::Connection notifier = database.connect();
  bool all_arrived = false;
  WakeUp wake_up(settings(Duration(0)), [&](const db::Notification&) { all_arrived = true; });
  wake_up.listen(listening);
  listening.listen("pgtq_cancel");
  for (int i = 0; i < 50; ++i) {
    query(notifier, "NOTIFY pgtq_wakeup, 'q'"); // one transaction each: none folded
  }
  // All of them have arrived once one sent after them has.
  query(notifier, "NOTIFY pgtq_cancel, 'last'");
  REQUIRE(eventually(
      [&] {
        wake_up.take(listening);
        return all_arrived;
      },
      20s));
  CHECK(wake_up.take_pending());
  CHECK_FALSE(wake_up.take_pending());
  wake_up.take(listening);
  CHECK_FALSE(wake_up.take_pending());
}

TEST_CASE("the wake-up ignores another queue's notifications and hands other channels on") {
  TestDatabase database;
  db::Connection listening = database.connect();
  db::Connection notifier = database.connect();
  std::vector<std::string> others;
  WakeUp wake_up(settings(Duration(0)), [&](const db::Notification& note) {
    others.push_back(note.channel + ":" + note.payload);
  });
  wake_up.listen(listening);
  listening.listen("pgtq_cancel");
  query(notifier, "NOTIFY pgtq_wakeup, 'other'");
  query(notifier, "NOTIFY pgtq_cancel, '42'");
  REQUIRE(eventually(
      [&] {
        wake_up.take(listening);
        return !others.empty();
      },
      20s));
  CHECK(others == std::vector<std::string>{"pgtq_cancel:42"});
  CHECK_FALSE(wake_up.take_pending());
  query(notifier, "NOTIFY pgtq_wakeup, 'q'");
  CHECK(woken_within(wake_up, listening, 20s));
}

TEST_CASE("after hold_back() a wake-up waits for the gap, and wait() ends with the gap") {
  TestDatabase database;
  db::Connection listening = database.connect();
  db::Connection notifier = database.connect();
  SUBCASE("a long gap holds it back") {
    WakeUp wake_up(settings(std::chrono::minutes(10)));
    wake_up.listen(listening);
    wake_up.hold_back();
    query(notifier, "NOTIFY pgtq_wakeup, 'q'");
    // Once the wait has seen the socket, the notification is pending but held back.
    wake_up.wait(&listening, Clock::now() + 20s);
    wake_up.take(listening);
    CHECK_FALSE(wake_up.take_pending());
    CHECK(wake_up.wait(&listening, Clock::now() + std::chrono::milliseconds(50)));
    CHECK_FALSE(wake_up.take_pending());
  }
  SUBCASE("a short gap ends the wait, however far its deadline") {
    const auto gap = std::chrono::milliseconds(200);
    WakeUp wake_up(settings(gap));
    wake_up.listen(listening);
    const auto held_at = Clock::now();
    wake_up.hold_back();
    query(notifier, "NOTIFY pgtq_wakeup, 'q'");
    const auto until = Clock::now() + 20s;
    wake_up.take(listening);
    while (!wake_up.take_pending() && Clock::now() < until) {
      wake_up.wait(&listening, until);
    }
    CHECK(Clock::now() < until);
    CHECK(Clock::now() - held_at >= gap);
  }
}

TEST_CASE("a wake-up read along with a query's result is taken without reading the socket, "
          "and its gap, not the deadline, ends the wait") {
  TestDatabase database;
  db::Connection listening = database.connect();
  db::Connection notifier = database.connect();
  bool arrived = false;
  WakeUp wake_up(settings(std::chrono::milliseconds(100)),
                 [&](const db::Notification&) { arrived = true; });
  wake_up.listen(listening);
  listening.listen("pgtq_cancel");
  wake_up.hold_back();
  query(notifier, "BEGIN");
  query(notifier, "NOTIFY pgtq_wakeup, 'q'");
  query(notifier, "NOTIFY pgtq_cancel, 'after it'");
  query(notifier, "COMMIT");
  // The notifications reach libpq with the result of a query on the connection.
  REQUIRE(eventually(
      [&] {
        query(listening, "SELECT 1");
        wake_up.take(listening, false);
        return arrived;
      },
      20s));
  // Nothing more arrives on the socket: only the pending wake-up's gap can end the wait.
  const auto until = Clock::now() + 20s;
  while (!wake_up.take_pending() && Clock::now() < until) {
    wake_up.wait(&listening, until);
  }
  CHECK(Clock::now() < until);
}

TEST_CASE("the wake-up's poll timer runs out after the interval, give or take 10 %") {
  const auto interval = std::chrono::seconds(100);
  WakeUp wake_up(settings(Duration(0), interval));
  const auto before = Clock::now();
  const auto next = wake_up.arm_poll();
  const auto after = Clock::now();
  CHECK(next == wake_up.next_poll());
  CHECK(next >= before + interval * 9 / 10);
  CHECK(next <= after + interval * 11 / 10);
  CHECK_FALSE(wake_up.poll_due());

  WakeUp soon(settings(Duration(0), std::chrono::milliseconds(1)));
  REQUIRE(eventually([&] { return soon.poll_due(); }, 20s));
  CHECK(soon.next_poll() > Clock::now() - std::chrono::seconds(1)); // re-armed
}

TEST_CASE("an interrupt from another thread ends the wake-up's wait") {
  TestDatabase database;
  db::Connection listening = database.connect();
  WakeUp wake_up(settings(Duration(0)));
  wake_up.listen(listening);
  const auto until = Clock::now() + 20s;
  std::thread other([&] { wake_up.interrupt(); });
  wake_up.wait(&listening, until);
  other.join();
  CHECK(Clock::now() < until);
}
