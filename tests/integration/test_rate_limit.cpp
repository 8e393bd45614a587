// A queue's rate limit (pgtq.set_rate_limit, pgtq.claim, pgtq.tick): never more tasks claimed
// in a window of the period than the limit, however many claim at once, and the daemons are
// woken when the window has room again, without polling.
#include "pgtq/client.hpp"
#include "support/daemon_process.hpp"
#include "support/sql.hpp"
#include "support/test_database.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <thread>
#include <vector>

using namespace pgtq;
using namespace pgtq::test;
using namespace std::chrono_literals;

TEST_CASE("claims of a rate-limited queue take no more than the limit per window, even at once") {
  TestDatabase database;
  db::Connection conn = database.connect();
  PGconn* pg = conn.native();
  for (int i = 0; i < 20; ++i) {
    push(pg, "q", "t", i);
  }
  set_rate_limit(pg, "q", 3, std::chrono::hours(1));

  constexpr int k_claimers = 6;
  std::vector<db::Connection> connections;
  for (int i = 0; i < k_claimers; ++i) {
    connections.push_back(database.connect());
  }
  std::atomic<int> claimed{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < k_claimers; ++i) {
    threads.emplace_back([&, i] {
      for (int round = 0; round < 5; ++round) {
        claimed += static_cast<int>(
            count(connections[i], "SELECT count(*) FROM pgtq.claim('q', '{t}', 2, 'w')"));
      }
    });
  }
  for (std::thread& thread : threads) {
    thread.join();
  }
  // At once, no more than the limit. A claim that finds the queue's turn taken returns nothing
  // rather than wait, so under load the concurrent claims may have left room: claims one at a
  // time take what is left.
  CHECK(claimed.load() <= 3);
  for (int i = 0; i < 4; ++i) {
    claimed += static_cast<int>(count(conn, "SELECT count(*) FROM pgtq.claim('q', '{t}', 2, 'w')"));
  }
  CHECK(claimed.load() == 3);
  CHECK(pop(pg, "q", {"t"}, 10, "w").empty());
  // Finishing frees nothing: the limit counts starts, not running tasks.
  query(conn, "SELECT pgtq.complete(id, claim) FROM pgtq.live_tasks WHERE state = 'running'");
  CHECK(pop(pg, "q", {"t"}, 10, "w").empty());

  // The window moves on: the claims of more than an hour ago no longer count.
  query(conn,
        "UPDATE pgtq.queues SET rate_starts = ARRAY(SELECT s - interval '61 minutes'"
        " FROM unnest(rate_starts) AS s) WHERE queue = 'q'");
  CHECK(pop(pg, "q", {"t"}, 10, "w").size() == 3);
  CHECK(pop(pg, "q", {"t"}, 10, "w").empty());

  // Other queues are not limited; removing the limit lets the rest go.
  push(pg, "other", "t", 1);
  CHECK(pop(pg, "other", {"t"}, 10, "w").size() == 1);
  set_rate_limit(pg, "q", std::nullopt);
  CHECK(pop(pg, "q", {"t"}, 100, "w").size() == 14);
  CHECK_THROWS_AS(set_rate_limit(pg, "q", 0), Error);
  CHECK_THROWS_AS(set_rate_limit(pg, "q", 5, std::chrono::hours(48)), Error);
}

TEST_CASE("pgtqd starts no more than the rate limit in any window, and is woken when the window "
          "has room") {
  TestDatabase database;
  db::Connection conn = database.connect();
  PGconn* pg = conn.native();
  set_rate_limit(pg, "default", 2, std::chrono::seconds(1));
  // A poll interval of 10 minutes: only the scheduler's wake-ups can start the tasks beyond
  // the first window's.
  DaemonProcess daemon({.dsn = database.dsn(),
                        .extra_args = {"--poll-interval", "600", "--scheduler-interval", "0.1"}});
  REQUIRE_MESSAGE(daemon.wait_for_log("listening as", 20s), daemon.log());
  for (int i = 0; i < 6; ++i) {
    push(pg, "default", "sleep", 0);
  }
  CHECK_MESSAGE(eventually(
                    [&] {
                      return count(conn,
                                   "SELECT count(*) FROM pgtq.tasks"
                                   " WHERE task = 'sleep' AND state = 'succeeded'") == 6;
                    },
                    15s),
                daemon.log());
  // No window of a second holds more than two starts.
  CHECK(count(conn,
              "SELECT coalesce(max(n), 0) FROM (SELECT (SELECT count(*) FROM pgtq.tasks b"
              " WHERE b.task = 'sleep' AND b.started_at >= a.started_at"
              " AND b.started_at < a.started_at + interval '1 second') AS n"
              " FROM pgtq.tasks a WHERE a.task = 'sleep') w") == 2);
}

TEST_CASE("a new rate limit starts with an empty window, and the window stays small however many "
          "claims it holds") {
  TestDatabase database;
  db::Connection conn = database.connect();
  PGconn* pg = conn.native();
  for (int i = 0; i < 300; ++i) {
    push(pg, "q", "t", i);
  }
  set_rate_limit(pg, "q", 1000, std::chrono::hours(1));
  for (int i = 0; i < 200; ++i) {
    REQUIRE(pop(pg, "q", {"t"}, 1, "w").size() == 1);
  }
  // 200 claims in a moment: merged into a few entries, all still counted.
  CHECK(count(conn, "SELECT cardinality(rate_starts) FROM pgtq.queues WHERE queue = 'q'") <= 65);
  CHECK(count(conn,
              "SELECT (SELECT sum(n) FROM unnest(rate_counts) AS n) FROM pgtq.queues"
              " WHERE queue = 'q'") == 200);
  // The same setting again keeps the window; another starts afresh.
  set_rate_limit(pg, "q", 1000, std::chrono::hours(1));
  CHECK(count(conn, "SELECT cardinality(rate_starts) FROM pgtq.queues WHERE queue = 'q'") > 0);
  set_rate_limit(pg, "q", 1, std::chrono::hours(1));
  CHECK(count(conn, "SELECT cardinality(rate_starts) FROM pgtq.queues WHERE queue = 'q'") == 0);
  CHECK(pop(pg, "q", {"t"}, 10, "w").size() == 1);
  CHECK(pop(pg, "q", {"t"}, 10, "w").empty());
}

TEST_CASE("a rate limit of 50 a second across three pgtqd at their defaults starts 50 a second, "
          "give or take 10 %, and never more in any second") {
  TestDatabase database;
  db::Connection conn = database.connect();
  set_rate_limit(conn.native(), "default", 50, std::chrono::seconds(1));
  query(conn, "SELECT count(pgtq.push('default', 'noop')) FROM generate_series(1, 1500)");
  std::vector<std::unique_ptr<DaemonProcess>> daemons;
  for (int i = 0; i < 3; ++i) {
    daemons.push_back(
        std::make_unique<DaemonProcess>(DaemonProcess::Options{.dsn = database.dsn()}));
  }
  // From the first start, ten seconds of them.
  REQUIRE(eventually(
      [&] {
        return count(conn, "SELECT count(*) FROM pgtq.tasks WHERE started_at IS NOT NULL") > 0;
      },
      30s));
  const std::string first = scalar(conn, "SELECT min(started_at) FROM pgtq.tasks");
  REQUIRE(eventually(
      [&] {
        return scalar(conn,
                      "SELECT clock_timestamp() > $1::timestamptz + interval '11 seconds'",
                      {first}) == "t";
      },
      30s));
  const long long in_ten_seconds = count(conn,
                                         "SELECT count(*) FROM pgtq.tasks WHERE started_at >= "
                                         "$1::timestamptz AND started_at < $1::timestamptz + "
                                         "interval '10 seconds'",
                                         {first});
  MESSAGE("started in 10 s: " << in_ten_seconds);
  CHECK(in_ten_seconds >= 450);
  CHECK(in_ten_seconds <= 550);
  // No window of a second holds more than the limit.
  CHECK(count(conn,
              "SELECT max((SELECT count(*) FROM pgtq.tasks b WHERE b.started_at >= a.started_at"
              " AND b.started_at < a.started_at + interval '1 second'))"
              " FROM pgtq.tasks a WHERE a.started_at IS NOT NULL") <= 50);
}
