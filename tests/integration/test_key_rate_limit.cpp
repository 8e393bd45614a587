// A rate limit per fairness key (pgtq.set_key_rate_limit, pgtq.fair_pick, pgtq.tick): never
// more tasks of one key claimed in a window of the period than the limit, however many claim
// at once; a key at its limit holds back no other key nor the tasks without one; pgtqd is woken
// when a key's window has room again, and empty windows are removed.
#include "pgtq/client.hpp"
#include "support/daemon_process.hpp"
#include "support/sql.hpp"
#include "support/test_database.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

using namespace pgtq;
using namespace pgtq::test;
using namespace std::chrono_literals;

namespace {

// How many tasks of each key ("-" for none) are running, claimed by anyone.
std::map<std::string, std::int64_t> running_by_key(db::Connection& conn) {
  std::map<std::string, std::int64_t> running;
  const db::Result rows = query(conn,
                                "SELECT coalesce(fairness_key, '-'), count(*) FROM pgtq.live_tasks"
                                " WHERE queue = 'q' AND state = 'running' GROUP BY 1");
  for (int row = 0; row < rows.rows(); ++row) {
    running[std::string(rows.text(row, 0))] = std::stoll(std::string(rows.text(row, 1)));
  }
  return running;
}

} // namespace

TEST_CASE("claims take no more tasks of a key than its rate limit per window, even at once, and "
          "a key at its limit holds back no other") {
  TestDatabase database;
  db::Connection conn = database.connect();
  PGconn* pg = conn.native();
  for (const std::string key : {"A", "B"}) {
    for (int i = 0; i < 6; ++i) {
      push(pg, "q", "t", args(i), {.fairness_key = key});
    }
  }
  push(pg, "q", "t", 0);
  push(pg, "q", "t", 1);
  set_key_rate_limit(pg, "q", 2, std::chrono::hours(1));

  constexpr int k_claimers = 6;
  std::vector<db::Connection> connections;
  for (int i = 0; i < k_claimers; ++i) {
    connections.push_back(database.connect());
  }
  std::vector<std::thread> threads;
  for (int i = 0; i < k_claimers; ++i) {
    threads.emplace_back([&, i] {
      for (int round = 0; round < 5; ++round) {
        query(connections[i], "SELECT count(*) FROM pgtq.claim('q', '{t}', 2, 'w')");
      }
    });
  }
  for (std::thread& thread : threads) {
    thread.join();
  }
  // At once, no key got more than its limit. A claim that finds the queue's turn taken
  // returns nothing rather than wait, so under load the concurrent claims may have left
  // room: claims one at a time take what is left.
  for (const auto& [key, running] : running_by_key(conn)) {
    CHECK_MESSAGE(running <= 2, key);
  }
  for (int i = 0; i < 6 && count(conn, "SELECT count(*) FROM pgtq.claim('q', '{t}', 2, 'w')") > 0;
       ++i) {
  }
  // Two of each key; the tasks without a key are not limited per key.
  CHECK(running_by_key(conn) == std::map<std::string, std::int64_t>{{"-", 2}, {"A", 2}, {"B", 2}});
  CHECK(pop(pg, "q", {"t"}, 10, "w").empty());
  // Finishing frees nothing: the limit counts starts, not running tasks.
  query(conn, "SELECT pgtq.complete(id, claim) FROM pgtq.live_tasks WHERE state = 'running'");
  CHECK(pop(pg, "q", {"t"}, 10, "w").empty());

  // A's window moves on: its claims of more than an hour ago no longer count; B's still do.
  query(conn,
        "UPDATE pgtq.key_rate_windows SET starts = ARRAY(SELECT s - interval '61 minutes'"
        " FROM unnest(starts) AS s) WHERE queue = 'q' AND fairness_key = 'A'");
  CHECK(running_by_key(conn).empty());
  CHECK(pop(pg, "q", {"t"}, 10, "w").size() == 2);
  CHECK(running_by_key(conn) == std::map<std::string, std::int64_t>{{"A", 2}});

  // The queue's own rate limit and the per-key one both hold.
  set_rate_limit(pg, "q", 1, std::chrono::hours(1));
  query(conn, "UPDATE pgtq.key_rate_windows SET starts = '{2000-01-01}', counts = '{1}'");
  CHECK(pop(pg, "q", {"t"}, 10, "w").size() == 1);
  set_rate_limit(pg, "q", std::nullopt);

  // Removing the limit lets the rest go, and drops the windows.
  set_key_rate_limit(pg, "q", std::nullopt);
  CHECK(count(conn, "SELECT count(*) FROM pgtq.key_rate_windows") == 0);
  CHECK(pop(pg, "q", {"t"}, 100, "w").size() == 5);
}

TEST_CASE("a key's rate window stays small however many claims it holds, and a new limit starts "
          "every key afresh") {
  TestDatabase database;
  db::Connection conn = database.connect();
  PGconn* pg = conn.native();
  for (int i = 0; i < 300; ++i) {
    push(pg, "q", "t", args(i), {.fairness_key = "A"});
  }
  set_key_rate_limit(pg, "q", 1000, std::chrono::hours(1));
  for (int i = 0; i < 200; ++i) {
    REQUIRE(pop(pg, "q", {"t"}, 1, "w").size() == 1);
  }
  // 200 claims in a moment: merged into a few entries, all still counted.
  CHECK(count(conn, "SELECT cardinality(starts) FROM pgtq.key_rate_windows") <= 65);
  CHECK(count(conn,
              "SELECT (SELECT sum(n) FROM unnest(counts) AS n) FROM pgtq.key_rate_windows"
              " WHERE queue = 'q' AND fairness_key = 'A'") == 200);
  // The same setting again keeps the windows; another starts afresh; reset_queue removes them.
  set_key_rate_limit(pg, "q", 1000, std::chrono::hours(1));
  CHECK(count(conn, "SELECT count(*) FROM pgtq.key_rate_windows") == 1);
  set_key_rate_limit(pg, "q", 1, std::chrono::hours(1));
  CHECK(count(conn, "SELECT count(*) FROM pgtq.key_rate_windows") == 0);
  CHECK(pop(pg, "q", {"t"}, 10, "w").size() == 1);
  CHECK(pop(pg, "q", {"t"}, 10, "w").empty());
  CHECK(count(conn, "SELECT key_rate_limit FROM pgtq.queue_stats WHERE queue = 'q'") == 1);
  CHECK(reset_queue(pg, "q"));
  CHECK(count(conn, "SELECT count(*) FROM pgtq.key_rate_windows") == 0);
}

TEST_CASE("pgtqd starts no more tasks of a key than its rate limit in any window, and is woken "
          "when a key's window has room") {
  TestDatabase database;
  db::Connection conn = database.connect();
  PGconn* pg = conn.native();
  set_key_rate_limit(pg, "default", 2, std::chrono::seconds(1));
  // A poll interval of 10 minutes: only the scheduler's wake-ups can start the tasks beyond
  // each key's first window.
  DaemonProcess daemon({.dsn = database.dsn(),
                        .extra_args = {"--poll-interval", "600", "--scheduler-interval", "0.1"}});
  REQUIRE_MESSAGE(daemon.wait_for_log("listening as", 20s), daemon.log());
  for (int i = 0; i < 5; ++i) {
    push(pg, "default", "sleep", args(0), {.fairness_key = "A"});
    push(pg, "default", "sleep", args(0), {.fairness_key = "B"});
  }
  CHECK_MESSAGE(eventually(
                    [&] {
                      return count(conn,
                                   "SELECT count(*) FROM pgtq.tasks"
                                   " WHERE task = 'sleep' AND state = 'succeeded'") == 10;
                    },
                    20s),
                daemon.log());
  // No window of a second holds more than two starts of one key.
  CHECK(count(conn,
              "SELECT coalesce(max(n), 0) FROM (SELECT (SELECT count(*) FROM pgtq.tasks b"
              " WHERE b.task = 'sleep' AND b.fairness_key = a.fairness_key"
              " AND b.started_at >= a.started_at"
              " AND b.started_at < a.started_at + interval '1 second') AS n"
              " FROM pgtq.tasks a WHERE a.task = 'sleep') w") == 2);
}

TEST_CASE("a claim held back by a key's rate limit says when the key gets room, and windows go "
          "an hour after they emptied, not before") {
  TestDatabase database;
  db::Connection conn = database.connect();
  PGconn* pg = conn.native();
  for (int i = 0; i < 5; ++i) {
    push(pg, "q", "t", args(i), {.fairness_key = "A"});
  }
  set_key_rate_limit(pg, "q", 2, std::chrono::hours(1));
  CHECK(pop(pg, "q", {"t"}, 10, "w").size() == 2);
  // A got room for 2 of 10: it gets more when this claim leaves its window, an hour on.
  CHECK(count(conn,
              "SELECT count(*) FROM pgtq.queues WHERE queue = 'q' AND key_rate_wake_at"
              " BETWEEN now() + interval '59 minutes' AND now() + interval '61 minutes'") == 1);
  // Ticks leave the windows alone.
  query(conn, "SELECT pgtq.tick()");
  CHECK(count(conn, "SELECT count(*) FROM pgtq.key_rate_windows") == 1);
  // An hour later: the window counts nothing, the claim takes two more.
  query(conn,
        "UPDATE pgtq.key_rate_windows SET starts = ARRAY(SELECT s - interval '61 minutes'"
        " FROM unnest(starts) AS s)");
  CHECK(pop(pg, "q", {"t"}, 10, "w").size() == 2);
  // A window that emptied less than an hour ago stays (a claim may still count it); one that
  // emptied longer ago goes, and so do the windows of a queue without the limit.
  query(conn,
        "UPDATE pgtq.key_rate_windows SET starts = ARRAY(SELECT s - interval '90 minutes'"
        " FROM unnest(starts) AS s)");
  query(conn, "SELECT pgtq.apply_retention()");
  CHECK(count(conn, "SELECT count(*) FROM pgtq.key_rate_windows") == 1);
  query(conn,
        "UPDATE pgtq.key_rate_windows SET starts = ARRAY(SELECT s - interval '40 minutes'"
        " FROM unnest(starts) AS s)");
  query(conn, "SELECT pgtq.apply_retention()");
  CHECK(count(conn, "SELECT count(*) FROM pgtq.key_rate_windows") == 0);
  query(conn, "INSERT INTO pgtq.key_rate_windows VALUES ('other', 'A', ARRAY[now()], '{1}')");
  query(conn, "SELECT pgtq.apply_retention()");
  CHECK(count(conn, "SELECT count(*) FROM pgtq.key_rate_windows") == 0);
}

TEST_CASE("a rate limit's period is its length in seconds: a day is 24 hours, and a month part "
          "cannot put the window in the future") {
  TestDatabase database;
  db::Connection conn = database.connect();
  query(conn, "SELECT pgtq.set_rate_limit('q', 5, '1 day')");
  query(conn, "SELECT pgtq.set_key_rate_limit('q', 5, '1 mon -29 days')");
  CHECK(scalar(conn, "SELECT rate_period || ' ' || key_rate_period FROM pgtq.queues") ==
        "24:00:00 24:00:00");
  query(conn, "SELECT pgtq.set_key_rate_limit('q', 5, '90 seconds')");
  CHECK(scalar(conn, "SELECT key_rate_period::text FROM pgtq.queues") == "00:01:30");
}
