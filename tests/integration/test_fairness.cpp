// Fairness keys (sql/schema/16_fairness.sql): claims of a queue take turns between the keys of
// its queued tasks, a key's backlog does not delay another key's tasks, and a queue's
// key_concurrency caps each key's running tasks across every daemon.
#include "pgtq/client.hpp"
#include "support/daemon_process.hpp"
#include "support/sql.hpp"
#include "support/task_state.hpp"
#include "support/test_database.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <string>
#include <thread>
#include <vector>

using namespace pgtq;
using namespace pgtq::test;
using namespace std::chrono_literals;

namespace {

// The fairness keys of the tasks one pop claims, in the order claimed ("-" for no key).
std::string popped_keys(db::Connection& conn, int max_count) {
  std::string keys;
  for (const ClaimedTask& task : pop(conn.native(), "q", {"t"}, max_count, "w")) {
    const std::string key =
        scalar(conn,
               "SELECT coalesce(fairness_key, '-') FROM pgtq.live_tasks WHERE id = $1",
               {std::to_string(task.id)});
    keys += key;
  }
  std::sort(keys.begin(), keys.end());
  return keys;
}

} // namespace

TEST_CASE("claims take turns between fairness keys, the tasks without a key being one more key") {
  TestDatabase database;
  db::Connection conn = database.connect();
  PGconn* pg = conn.native();
  // A backlog of A pushed first, then B, then tasks without a key.
  std::vector<TaskSpec> tasks;
  for (int i = 0; i < 50; ++i) {
    tasks.push_back({.task = "t", .args = args(i), .options = {.fairness_key = "A"}});
  }
  push_many(pg, "q", tasks);
  for (int i = 0; i < 3; ++i) {
    push(pg, "q", "t", args(i), {.fairness_key = "B"});
  }
  PreparedPusher pusher(pg);
  pusher.push("q", "t", args(1), {.fairness_key = "C"});
  push(pg, "q", "t", args(1));

  // One task per claim: the turns go round in key order (no key first), whatever came first.
  std::string order;
  for (int i = 0; i < 9; ++i) {
    order += popped_keys(conn, 1);
  }
  CHECK(order == "-ABCABABA");
  // A claim of n takes one task of each key per round while keys have tasks.
  push(pg, "q", "t", args(2), {.fairness_key = "B"});
  push(pg, "q", "t", args(2), {.fairness_key = "C"});
  CHECK(popped_keys(conn, 5) == "AAABC"); // from after A: B, C, A, then A twice more
  CHECK(popped_keys(conn, 3) == "AAA");

  // The key stays with the task: in the history, and back again on a retry.
  const std::vector<ClaimedTask> last = pop(pg, "q", {"t"}, 1, "w");
  REQUIRE(last.size() == 1);
  REQUIRE(fail(pg, last[0], "boom", std::nullopt, true));
  CHECK(scalar(conn,
               "SELECT fairness_key FROM pgtq.tasks WHERE id = $1",
               {std::to_string(last[0].id)}) == "A");
  CHECK(retry(pg, last[0].id));
  CHECK(scalar(conn,
               "SELECT fairness_key FROM pgtq.live_tasks WHERE id = $1",
               {std::to_string(last[0].id)}) == "A");
  CHECK(count(conn, "SELECT queued_keys FROM pgtq.queue_stats WHERE queue = 'q'") == 1);
}

TEST_CASE("a key of weight w takes w tasks per turn, a turn may span claims, and a weight "
          "removed is 1 again") {
  TestDatabase database;
  db::Connection conn = database.connect();
  PGconn* pg = conn.native();
  for (const std::string key : {"A", "B", "C"}) {
    std::vector<TaskSpec> tasks;
    for (int i = 0; i < 30; ++i) {
      tasks.push_back({.task = "t", .args = args(i), .options = {.fairness_key = key}});
    }
    push_many(pg, "q", tasks);
  }
  query(conn, "SELECT pgtq.set_key_weight('q', 'A', 3)");
  set_key_weight(pg, "q", "C", 2); // the client's call

  // One task per claim: A's turn of three spans three claims, then B's one, C's two.
  std::string order;
  for (int i = 0; i < 12; ++i) {
    order += popped_keys(conn, 1);
  }
  CHECK(order == "AAABCCAAABCC");
  // A claim of six takes a whole round; one of four stops inside C's turn and the next
  // finishes it before A's.
  CHECK(popped_keys(conn, 6) == "AAABCC");
  CHECK(popped_keys(conn, 4) == "AAAB");
  CHECK(popped_keys(conn, 1) == "C");
  CHECK(popped_keys(conn, 1) == "C");
  CHECK(popped_keys(conn, 1) == "A");

  // Weights are the queue's: 1 again once removed, and gone with reset_queue.
  set_key_weight(pg, "q", "A", std::nullopt);
  CHECK(popped_keys(conn, 1) == "B");   // A's turn of one was the claim before
  CHECK(popped_keys(conn, 3) == "ACC"); // C's two, then A's one
  CHECK(scalar(conn, "SELECT pgtq.reset_queue('q')") == "t"); // C's weight was left
  CHECK(count(conn, "SELECT count(*) FROM pgtq.fairness_weights") == 0);
}

TEST_CASE("a claim that can serve nobody keeps a weighted key's turn where it was") {
  TestDatabase database;
  db::Connection conn = database.connect();
  PGconn* pg = conn.native();
  for (const std::string key : {"a", "b"}) {
    for (int i = 0; i < 5; ++i) {
      push(pg, "q", "t", args(i), {.fairness_key = key});
    }
  }
  push(pg, "q", "u", args(0), {.fairness_key = "c"}); // c has nothing for claims of t
  set_key_weight(pg, "q", "b", 3);
  set_key_concurrency(pg, "q", 1);
  std::vector<ClaimedTask> running;
  // One claim of t at a time, each task finished before the next claim when finish is set.
  const auto claim_one = [&](bool finish) {
    const std::vector<ClaimedTask> claimed = pop(pg, "q", {"t"}, 1, "w");
    if (claimed.empty()) {
      return std::string("-");
    }
    const std::string key = scalar(conn,
                                   "SELECT fairness_key FROM pgtq.live_tasks WHERE id = $1",
                                   {std::to_string(claimed[0].id)});
    if (finish) {
      REQUIRE(complete(pg, claimed[0]));
    } else {
      running.push_back(claimed[0]);
    }
    return key;
  };
  // a, then the first of b's turn of three; both at their limit then, c never servable.
  CHECK(claim_one(false) == "a");
  CHECK(claim_one(false) == "b");
  CHECK(claim_one(false) == "-");
  CHECK(claim_one(false) == "-");
  for (const ClaimedTask& task : running) {
    REQUIRE(complete(pg, task));
  }
  // b's turn goes on where it stopped: two more, then a.
  std::string order;
  for (int i = 0; i < 4; ++i) {
    order += claim_one(true);
  }
  CHECK(order == "bbab");
}

TEST_CASE("key_concurrency caps the running tasks of each key and holds back no other key") {
  TestDatabase database;
  db::Connection conn = database.connect();
  PGconn* pg = conn.native();
  for (const char* key : {"A", "B"}) {
    for (int i = 0; i < 5; ++i) {
      push(pg, "q", "t", args(i), {.fairness_key = key});
    }
  }
  push(pg, "q", "t", args(0));
  push(pg, "q", "t", args(1));
  set_key_concurrency(pg, "q", 2);
  // Two of each key, and every task without a key: those are not limited per key.
  CHECK(popped_keys(conn, 10) == "--AABB");
  CHECK(pop(pg, "q", {"t"}, 10, "w").empty());
  // One of A ends: room for one more A, none for B.
  REQUIRE(query(conn,
                "SELECT pgtq.complete(id, claim) FROM pgtq.live_tasks"
                " WHERE queue = 'q' AND state = 'running' AND fairness_key = 'A' LIMIT 1")
              .rows() == 1);
  CHECK(popped_keys(conn, 10) == "A");
  // Raised, then removed.
  set_key_concurrency(pg, "q", 3);
  CHECK(popped_keys(conn, 10) == "AB");
  set_key_concurrency(pg, "q", std::nullopt);
  CHECK(popped_keys(conn, 10) == "ABB"); // what is left: one of A, two of B
  CHECK(reset_queue(pg, "q"));
}

TEST_CASE("a fair claim passes over keys it cannot serve, and claimers of other task names keep "
          "their own turns") {
  TestDatabase database;
  db::Connection conn = database.connect();
  PGconn* pg = conn.native();
  const auto claim_one = [&](const char* name) {
    const std::vector<ClaimedTask> got = pop(pg, "q", {name}, 1, "w");
    return got.empty() ? std::string("none")
                       : scalar(conn,
                                "SELECT coalesce(fairness_key, '-') FROM pgtq.live_tasks"
                                " WHERE id = $1",
                                {std::to_string(got[0].id)});
  };
  // Twenty keys of task a, then one key of task b: a claimer of b finds it at once, however
  // many keys of a come first.
  for (int key = 1; key <= 20; ++key) {
    push(pg, "q", "a", args(key), {.fairness_key = "k" + std::to_string(100 + key)});
  }
  push(pg, "q", "b", args(0), {.fairness_key = "z"});
  for (int i = 0; i < 10; ++i) {
    push(pg, "q", "b", args(i));
  }
  CHECK(claim_one("b") == "-");
  CHECK(claim_one("b") == "z");
  // A claimer of a goes round its keys whatever the claimer of b does in between.
  std::string order;
  for (int i = 0; i < 4; ++i) {
    order += claim_one("a") + " ";
    claim_one("b");
  }
  CHECK(order == "k101 k102 k103 k104 ");

  // 150 keys with one task running each, at a limit of one: a new key with room is claimed
  // within a few claims of one task, each passing over the keys at their limit.
  for (int key = 0; key < 150; ++key) {
    push(pg, "capped", "a", args(key), {.fairness_key = "c" + std::to_string(1000 + key)});
    push(pg, "capped", "a", args(key), {.fairness_key = "c" + std::to_string(1000 + key)});
  }
  set_key_concurrency(pg, "capped", 1);
  CHECK(pop(pg, "capped", {"a"}, 1000, "w").size() == 150);
  // A task without a key takes the next turn, so the following claim starts at the first key.
  push(pg, "capped", "a", args(0));
  CHECK(pop(pg, "capped", {"a"}, 1, "w").size() == 1);
  push(pg, "capped", "a", args(0), {.fairness_key = "free"});
  int claims = 0;
  std::vector<ClaimedTask> got;
  while (got.empty() && claims < 10) {
    got = pop(pg, "capped", {"a"}, 1, "w");
    ++claims;
  }
  REQUIRE(got.size() == 1);
  CHECK(scalar(conn,
               "SELECT fairness_key FROM pgtq.live_tasks WHERE id = $1",
               {std::to_string(got[0].id)}) == "free");
  // 150 keys at their limit, passed over in stretches of 68 within one claim of one task.
  CHECK(claims == 1);

  // A thousand keys of a task name this claimer does not handle, then one it does: found by
  // the first claim, not one poll interval per stretch of keys.
  std::vector<TaskSpec> others;
  for (int key = 0; key < 1000; ++key) {
    others.push_back({"render", args(key), {.fairness_key = "r" + std::to_string(10000 + key)}});
  }
  push_many(pg, "wide", others);
  push(pg, "wide", "sleep", args(0), {.fairness_key = "s"});
  CHECK(pop(pg, "wide", {"sleep"}, 1, "w").size() == 1);
}

TEST_CASE("pgtqd: a key's ten tasks start while a backlog of 20,000 of another key waits, "
          "each within a few claims") {
  TestDatabase database;
  db::Connection conn = database.connect();
  PGconn* pg = conn.native();
  std::vector<TaskSpec> backlog;
  for (int i = 0; i < 20000; ++i) {
    backlog.push_back({.task = "noop", .args = args(i), .options = {.fairness_key = "A"}});
  }
  push_many(pg, "default", backlog);
  DaemonProcess daemon({.dsn = database.dsn()});
  REQUIRE_MESSAGE(daemon.wait_for_log("listening as", 20s), daemon.log());
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  while (std::chrono::steady_clock::now() < deadline &&
         count(conn, "SELECT count(*) FROM pgtq.finished_tasks") < 500) {
    std::this_thread::sleep_for(10ms);
  }
  const std::string pushed_at = scalar(conn, "SELECT clock_timestamp()::text");
  std::vector<TaskSpec> few;
  for (int i = 0; i < 10; ++i) {
    few.push_back({.task = "noop", .args = args(i), .options = {.fairness_key = "B"}});
  }
  push_many(pg, "default", few);
  while (std::chrono::steady_clock::now() < deadline &&
         count(conn, "SELECT count(*) FROM pgtq.finished_tasks WHERE fairness_key = 'B'") < 10) {
    std::this_thread::sleep_for(10ms);
  }
  REQUIRE_MESSAGE(count(conn,
                        "SELECT count(*) FROM pgtq.tasks WHERE fairness_key = 'B' AND state = "
                        "'succeeded'") == 10,
                  daemon.log());
  // The A tasks claimed between B's push and the start of B's last task.
  const long long overtaking = count(
      conn,
      "SELECT count(*) FROM pgtq.tasks WHERE fairness_key = 'A' AND started_at > $1::timestamptz"
      " AND started_at < (SELECT max(started_at) FROM pgtq.tasks WHERE fairness_key = 'B')",
      {pushed_at});
  MESSAGE(overtaking << " tasks of A started between B's push and B's last start");
  CHECK(overtaking < 200);
  CHECK(count(conn, "SELECT count(*) FROM pgtq.live_tasks WHERE fairness_key = 'A'") > 1000);
}

TEST_CASE("pgtqd daemons sharing a queue with key_concurrency 2 never run more than 2 of a key, "
          "keep the other keys busy, and are woken when a key has room again") {
  TestDatabase database;
  db::Connection conn = database.connect();
  PGconn* pg = conn.native();
  set_key_concurrency(pg, "default", 2);
  std::vector<TaskSpec> tasks;
  for (int i = 0; i < 6; ++i) {
    for (const char* key : {"A", "B", "C"}) {
      tasks.push_back({.task = "sleep", .args = args(0.1), .options = {.fairness_key = key}});
    }
  }
  // A poll interval of 10 minutes: only wake-ups can start a key's tasks after its first two.
  std::vector<std::unique_ptr<DaemonProcess>> daemons;
  for (int i = 0; i < 2; ++i) {
    daemons.push_back(std::make_unique<DaemonProcess>(DaemonProcess::Options{
        .dsn = database.dsn(),
        .extra_args = {"--poll-interval", "600", "--concurrency", "4", "--prefetch", "0"}}));
    REQUIRE_MESSAGE(daemons.back()->wait_for_log("listening as", 20s), daemons.back()->log());
  }
  push_many(pg, "default", tasks);
  long long most_of_a_key = 0;
  long long most = 0;
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (std::chrono::steady_clock::now() < deadline &&
         count(conn, "SELECT count(*) FROM pgtq.finished_tasks WHERE state = 'succeeded'") < 18) {
    const db::Result rows = query(conn,
                                  "SELECT count(*) FROM pgtq.live_tasks WHERE state = 'running'"
                                  " GROUP BY fairness_key");
    long long total = 0;
    for (int row = 0; row < rows.rows(); ++row) {
      const long long n = std::stoll(rows.string(row, 0));
      most_of_a_key = std::max(most_of_a_key, n);
      total += n;
    }
    most = std::max(most, total);
    std::this_thread::sleep_for(5ms);
  }
  CHECK_MESSAGE(count(conn, "SELECT count(*) FROM pgtq.finished_tasks WHERE state = 'succeeded'") ==
                    18,
                daemons[0]->log());
  CHECK(most_of_a_key <= 2);
  CHECK(most_of_a_key == 2);
  CHECK(most >= 5); // three keys with room for two each: the limit did not idle the workers
}
