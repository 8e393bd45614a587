// Unique tasks (sql/schema/12_unique.sql) through the C++ client and SQL: a key held by a live
// task of the queue is never pushed twice, whoever pushes it and however many at once; a
// finished task counts only when asked; the conflict modes do what they say; retry does not
// break the rule.
#include "pgtq/client.hpp"
#include "support/sql.hpp"
#include "support/test_database.hpp"

#include <doctest/doctest.h>
#include <libpq-fe.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

using namespace pgtq;
using namespace pgtq::test;
using namespace std::chrono_literals;

namespace {

PushOptions unique(const std::string& key, OnConflict on_conflict = OnConflict::ignore) {
  return PushOptions{.unique = Unique{.key = key, .on_conflict = on_conflict}};
}

std::string text_of(db::Connection& conn, const std::string& column, std::int64_t id) {
  return scalar(
      conn, "SELECT " + column + "::text FROM pgtq.tasks WHERE id = $1", {std::to_string(id)});
}

long long live_with_key(db::Connection& conn, const std::string& key) {
  return count(conn, "SELECT count(*) FROM pgtq.live_tasks WHERE unique_key = $1", {key});
}

// Claims the task of queue (the only one queued) and records outcome: "done" or "fail".
void end_task(PGconn* pg, const std::string& queue, std::int64_t id, const std::string& outcome) {
  const std::vector<ClaimedTask> claimed = pop(pg, queue, {"t"}, 1, "w");
  REQUIRE(claimed.size() == 1);
  REQUIRE(claimed[0].id == id);
  REQUIRE((outcome == "done" ? complete(pg, claimed[0]) : fail(pg, claimed[0], "boom")));
}

// Runs sql; returns "" when it succeeds, else the SQLSTATE and message ("22023 ...").
std::string outcome(db::Connection& conn, const std::string& sql) {
  PGresult* result = PQexec(conn.native(), sql.c_str());
  const ExecStatusType status = PQresultStatus(result);
  std::string answer;
  if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) {
    const char* state = PQresultErrorField(result, PG_DIAG_SQLSTATE);
    const char* message = PQresultErrorField(result, PG_DIAG_MESSAGE_PRIMARY);
    answer = std::string(state ? state : "?????") + " " + (message ? message : "");
  }
  PQclear(result);
  return answer;
}

} // namespace

TEST_CASE("a unique key held by a live task of the queue returns the holder's id, until it ends") {
  TestDatabase database;
  db::Connection conn = database.connect();
  PGconn* pg = conn.native();
  const std::int64_t first = push(pg, "q", "t", args(1), unique("user:42"));
  CHECK(push(pg, "q", "t", args(2), unique("user:42")) == first);
  CHECK(push(pg, "q", "t", args(3), PushOptions{.delay = 1h, .unique = Unique{.key = "user:42"}}) ==
        first);
  CHECK(text_of(conn, "args", first) == "[1]");                       // ignore changes nothing
  CHECK(push(pg, "other", "t", args(1), unique("user:42")) != first); // keys are per queue
  CHECK(push(pg, "q", "t", args(1)) != first);                        // no key, no rule
  CHECK(live_with_key(conn, "user:42") == 2);

  // Running still holds it; a task that ended does not (by default).
  const std::vector<ClaimedTask> claimed = pop(pg, "q", {"t"}, 1, "w");
  REQUIRE(claimed.size() == 1);
  REQUIRE(claimed[0].id == first);
  CHECK(push(pg, "q", "t", args(4), unique("user:42")) == first);
  REQUIRE(complete(pg, claimed[0]));
  const std::int64_t second = push(pg, "q", "t", args(5), unique("user:42"));
  CHECK(second != first);
  CHECK(text_of(conn, "unique_key", first) == "user:42"); // the history keeps the key
  CHECK(text_of(conn, "args", second) == "[5]");
}

TEST_CASE("on_conflict raise names the holder, and replace rewrites a waiting holder only") {
  TestDatabase database;
  db::Connection conn = database.connect();
  PGconn* pg = conn.native();
  const std::int64_t holder = push(pg, "q", "t", args(1), unique("k"));
  try {
    push(pg, "q", "t", args(2), unique("k", OnConflict::raise));
    FAIL("a second push of the key was accepted");
  } catch (const Error& error) {
    CHECK(error.sqlstate() == "23505");
    CHECK(std::string(error.what()).find("task " + std::to_string(holder)) != std::string::npos);
  }

  // A queued holder takes the new args, priority and run_at (and becomes scheduled by it).
  PushOptions replace = unique("k", OnConflict::replace);
  replace.delay = 1h;
  replace.priority = 7;
  CHECK(push(pg, "q", "t", args(2), replace) == holder);
  CHECK(scalar(conn,
               "SELECT args::text || ' ' || priority || ' ' || state::text"
               " || ' ' || (run_at > now() + interval '59 minutes')::text"
               " FROM pgtq.tasks WHERE id = $1",
               {std::to_string(holder)}) == "[2] 7 scheduled true");
  CHECK(push(pg, "q", "t", args(3), unique("k", OnConflict::replace)) == holder);
  CHECK(text_of(conn, "state", holder) == "queued");

  // A running holder is left as it is.
  const std::vector<ClaimedTask> claimed = pop(pg, "q", {"t"}, 1, "w");
  REQUIRE(claimed.size() == 1);
  CHECK(push(pg, "q", "t", args(4), unique("k", OnConflict::replace)) == holder);
  CHECK(text_of(conn, "args", holder) == "[3]");
  CHECK(text_of(conn, "state", holder) == "running");
  CHECK(live_with_key(conn, "k") == 1);
}

TEST_CASE("pushers of one key at the same instant, each in its own transaction, create one task") {
  TestDatabase database;
  constexpr int k_pushers = 8;
  std::vector<std::int64_t> ids(k_pushers, 0);
  std::atomic<int> pushed{0};
  std::vector<std::thread> threads;
  std::vector<db::Connection> connections;
  for (int i = 0; i < k_pushers; ++i) {
    connections.push_back(database.connect());
  }
  for (int i = 0; i < k_pushers; ++i) {
    threads.emplace_back([&, i] {
      PGconn* pg = connections[i].native();
      connections[i].run_script("BEGIN");
      ids[i] = push(pg, "q", "t", args(i), unique("once"));
      ++pushed;
      // Every transaction stays open until the others have pushed (or wait on the index).
      std::this_thread::sleep_for(200ms);
      connections[i].run_script("COMMIT");
    });
  }
  for (std::thread& thread : threads) {
    thread.join();
  }
  db::Connection conn = database.connect();
  CHECK(pushed.load() == k_pushers);
  CHECK(live_with_key(conn, "once") == 1);
  for (std::int64_t id : ids) {
    CHECK(id == ids[0]);
  }
}

TEST_CASE("a finished task counts when unique_states names its state, within unique_period") {
  TestDatabase database;
  db::Connection conn = database.connect();
  PGconn* pg = conn.native();
  const std::int64_t done = push(pg, "q", "t", args(1), unique("daily"));
  end_task(pg, "q", done, "done");

  PushOptions within_hour = unique("daily");
  within_hour.unique->period = 1h; // default states with a period: plus succeeded
  CHECK(push(pg, "q", "t", args(2), within_hour) == done);
  CHECK(live_with_key(conn, "daily") == 0);

  // Once it finished more than the period ago, it no longer counts.
  conn.run_script("UPDATE pgtq.finished_tasks SET finished_at = now() - interval '2 hours'");
  PushOptions one_attempt = within_hour;
  one_attempt.max_attempts = 1;
  const std::int64_t next = push(pg, "q", "t", args(3), one_attempt);
  CHECK(next != done);
  end_task(pg, "q", next, "fail");
  // A failed task counts only when failed is named.
  PushOptions with_failed = unique("daily");
  CHECK(push(pg, "q", "t", args(4), within_hour) != next);
  conn.run_script("DELETE FROM pgtq.live_tasks");
  with_failed.unique->states = {"queued", "scheduled", "running", "failed"};
  CHECK(push(pg, "q", "t", args(5), with_failed) == next);

  // SQL: the same rule, and the states are checked.
  CHECK(scalar(conn,
               "SELECT pgtq.push('q', 't', unique_key => 'daily', unique_period => '1 hour',"
               " unique_states => '{queued,scheduled,running,failed}')") == std::to_string(next));
}

TEST_CASE("a push that waits on a finishing holder's live row counts it once it is finished") {
  TestDatabase database;
  db::Connection finisher = database.connect();
  db::Connection pusher = database.connect();
  db::Connection watcher = database.connect();
  PGconn* pg = finisher.native();
  const std::int64_t holder = push(pg, "q", "t", args(1), unique("k"));
  const std::vector<ClaimedTask> claimed = pop(pg, "q", {"t"}, 1, "w");
  REQUIRE(claimed.size() == 1);

  finisher.run_script("BEGIN");
  REQUIRE(complete(pg, claimed[0])); // the live row is deleted, not yet committed
  const std::string pusher_pid = scalar(pusher, "SELECT pg_backend_pid()");
  std::int64_t pushed = 0;
  std::thread push_thread([&] {
    PushOptions within_hour = unique("k");
    within_hour.unique->period = 1h;
    pushed = push(pusher.native(), "q", "t", args(2), within_hour);
  });
  // The push waits on the index for the finishing transaction.
  bool waiting = false;
  for (int i = 0; i < 500 && !waiting; ++i) {
    waiting = scalar(watcher,
                     "SELECT count(*) FROM pg_stat_activity WHERE pid = $1"
                     " AND wait_event_type = 'Lock'",
                     {pusher_pid}) == "1";
    if (!waiting) {
      std::this_thread::sleep_for(10ms);
    }
  }
  CHECK(waiting);
  finisher.run_script("COMMIT");
  push_thread.join();
  // Its look before the insert saw the task live; the look after it sees it succeeded.
  CHECK(pushed == holder);
  CHECK(live_with_key(watcher, "k") == 0);
}

TEST_CASE("push_many with unique keys: in order, holders' ids for held keys, all or nothing") {
  TestDatabase database;
  db::Connection conn = database.connect();
  PGconn* pg = conn.native();
  const std::int64_t b = push(pg, "q", "t", args(0), unique("b"));
  const std::vector<std::int64_t> ids = push_many(pg,
                                                  "q",
                                                  {{"t", args(1), unique("a")},
                                                   {"t", args(2)},
                                                   {"t", args(3), unique("a")},
                                                   {"t", args(4), unique("b")}});
  REQUIRE(ids.size() == 4);
  CHECK(ids[0] != b);
  CHECK(ids[1] > ids[0]);
  CHECK(ids[2] == ids[0]);
  CHECK(ids[3] == b);
  CHECK(count(conn, "SELECT count(*) FROM pgtq.live_tasks") == 3);

  // raise refuses the whole call: the new key before the held one is not pushed either.
  CHECK_THROWS_AS(push_many(pg,
                            "q",
                            {{"t", args(5), unique("c", OnConflict::raise)},
                             {"t", args(6), unique("b", OnConflict::raise)}}),
                  Error);
  CHECK(count(conn, "SELECT count(*) FROM pgtq.live_tasks") == 3);
  // Which element's key was held, and a key given twice in one raise call, are named.
  try {
    push_many(pg,
              "q",
              {{"t", args(5), unique("c", OnConflict::raise)},
               {"t", args(6), unique("b", OnConflict::raise)}});
    FAIL("accepted");
  } catch (const Error& error) {
    CHECK(error.sqlstate() == "23505");
    CHECK_MESSAGE(std::string(error.what()).rfind("pgtq.push_many: unique_keys[2]: ", 0) == 0,
                  error.what());
  }
  try {
    push_many(pg,
              "q",
              {{"t", args(5), unique("x", OnConflict::raise)},
               {"t", args(6), unique("y", OnConflict::raise)},
               {"t", args(7), unique("x", OnConflict::raise)}});
    FAIL("accepted");
  } catch (const Error& error) {
    CHECK(error.sqlstate() == "23505");
    CHECK_MESSAGE(std::string(error.what()).find("unique_keys[3] repeats unique_keys[1]") !=
                      std::string::npos,
                  error.what());
  }
  CHECK(count(conn, "SELECT count(*) FROM pgtq.live_tasks") == 3);
  // One call, one set of unique options.
  CHECK_THROWS_AS(
      push_many(
          pg, "q", {{"t", args(7), unique("d")}, {"t", args(8), unique("e", OnConflict::raise)}}),
      Error);

  // PreparedPusher: the same rule through prepared statements.
  PreparedPusher pusher(pg);
  CHECK(pusher.push("q", "t", args(9), unique("a")) == ids[0]);
  CHECK(pusher.push("q", "t", args(9), unique("f")) != ids[0]);
}

TEST_CASE("a failed task whose key a live task holds is not retried, alone or in bulk") {
  TestDatabase database;
  db::Connection conn = database.connect();
  PGconn* pg = conn.native();
  PushOptions once = unique("k");
  once.max_attempts = 1;
  const std::int64_t failed = push(pg, "q", "t", args(1), once);
  end_task(pg, "q", failed, "fail");
  const std::int64_t live = push(pg, "q", "t", args(2), once);
  REQUIRE(live != failed);

  CHECK_FALSE(retry(pg, failed));
  CHECK(retry_all(pg, {.queue = "q"}, /*dry_run=*/true) == 0);
  CHECK(retry_all(pg, {.queue = "q"}) == 0);
  CHECK(text_of(conn, "state", failed) == "failed");

  // Once the holder ended, the retry goes through, keeping the key.
  end_task(pg, "q", live, "done");
  CHECK(retry(pg, failed));
  CHECK(text_of(conn, "state", failed) == "queued");
  CHECK(push(pg, "q", "t", args(3), unique("k")) == failed);
}

TEST_CASE("replace rewrites the waiting live holder even when a finished task also "
          "counts") {
  TestDatabase database;
  db::Connection conn = database.connect();
  PGconn* pg = conn.native();
  // One set of options throughout: unique_period 1 hour (live states plus succeeded), replace.
  PushOptions options = unique("k", OnConflict::replace);
  options.unique->period = std::chrono::hours(1);
  options.max_attempts = 1;
  const std::int64_t x = push(pg, "q", "t", args(1), options);
  end_task(pg, "q", x, "fail"); // failed: does not count
  const std::int64_t a = push(pg, "q", "t", args(2), options);
  REQUIRE(a != x);
  end_task(pg, "q", a, "done"); // succeeded: counts for an hour
  REQUIRE(retry(pg, x));        // no live task holds k: x is queued again
  // A queued holder (x) and a succeeded one (a) both count; replace must rewrite x.
  const std::int64_t got = push(pg, "q", "t", args(3), options);
  CHECK(got == x);
  CHECK(scalar(conn, "SELECT args::text FROM pgtq.tasks WHERE id = $1", {std::to_string(x)}) ==
        "[3]");

  // raise names the finished task and says "finished" while a queued one holds the key.
  const std::string raised =
      outcome(conn,
              "SELECT pgtq.push('q', 't', unique_key => 'k', unique_period => '1 hour', "
              "on_conflict => 'raise')");
  CHECK(raised.find("task " + std::to_string(x)) != std::string::npos);
}

TEST_CASE("push_many refuses bad unique options even when no element has a key") {
  TestDatabase database;
  db::Connection conn = database.connect();
  const std::string many =
      "SELECT pgtq.push_many('q', '{t}', '{\"[]\"}', unique_keys => '{NULL}', ";
  CHECK(outcome(conn, many + "on_conflict => 'bogus')").rfind("22023", 0) == 0);
  CHECK(outcome(conn, many + "on_conflict => NULL)").rfind("22004", 0) == 0);
  CHECK(outcome(conn, many + "unique_states => '{queued}')").rfind("22023", 0) == 0);
  CHECK(outcome(conn, many + "unique_period => '-1 day')").rfind("22023", 0) == 0);
  CHECK(outcome(conn,
                "SELECT pgtq.push_many('q', '{}', '{}', unique_keys => '{}', "
                "on_conflict => 'bogus')")
            .rfind("22023", 0) == 0);
  // Refused calls change nothing.
  CHECK(count(conn, "SELECT count(*) FROM pgtq.live_tasks") == 0);
}

TEST_CASE("a bad unique state name is refused with 22023 naming the states") {
  TestDatabase database;
  db::Connection conn = database.connect();
  PGconn* pg = conn.native();
  PushOptions options = unique("k");
  options.unique->states = {"queued", "scheduled", "running", "done"};
  try {
    push(pg, "q", "t", args(1), options);
    FAIL("a bad state name was accepted");
  } catch (const Error& error) {
    CHECK(error.sqlstate() == "22023");
    CHECK(std::string(error.what()).find("states") != std::string::npos);
  }
}

TEST_CASE("retry_all's dry run counts what the call would retry") {
  TestDatabase database;
  db::Connection conn = database.connect();
  PGconn* pg = conn.native();
  PushOptions once = unique("k");
  once.max_attempts = 1;
  const std::int64_t first = push(pg, "q", "t", args(1), once);
  end_task(pg, "q", first, "fail");
  const std::int64_t second = push(pg, "q", "t", args(2), once);
  end_task(pg, "q", second, "fail");
  const std::int64_t would = retry_all(pg, {.queue = "q"}, /*dry_run=*/true);
  const std::int64_t did = retry_all(pg, {.queue = "q"});
  CHECK(did == 1); // the lower id; the other shares its key
  CHECK(would == did);
}

TEST_CASE("replace makes the waiting holder the push, task name and args together") {
  TestDatabase database;
  db::Connection conn = database.connect();
  PGconn* pg = conn.native();
  const std::int64_t holder = push(pg, "q", "a", args(1), unique("k"));
  CHECK(push(pg, "q", "b", args(2), unique("k", OnConflict::replace)) == holder);
  // Args meant for b must not run under a's handler.
  CHECK(scalar(conn,
               "SELECT task || ' ' || args::text FROM pgtq.tasks WHERE id = $1",
               {std::to_string(holder)}) == "b [2]");
}

// Without a fixed order of keys, two calls naming the same keys in other orders can each hold
// one key's index entry and wait for the other's (40P01); 8 connections for 3 s hit it a few
// times before the keys were locked in one order.
TEST_CASE("concurrent push_many calls with the same keys in another order do not "
          "deadlock") {
  TestDatabase database;
  constexpr int k_threads = 8;
  std::vector<db::Connection> connections;
  for (int i = 0; i < k_threads; ++i) {
    connections.push_back(database.connect());
  }
  std::atomic<int> deadlocks{0};
  std::atomic<int> calls{0};
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(3);
  std::vector<std::thread> threads;
  for (int i = 0; i < k_threads; ++i) {
    threads.emplace_back([&, i] {
      PGconn* pg = connections[i].native();
      int round = 0;
      while (std::chrono::steady_clock::now() < until) {
        const std::string a = "k" + std::to_string((round + i) % 4);
        const std::string b = "k" + std::to_string((round + i + 1 + i % 2) % 4);
        ++round;
        try {
          push_many(pg,
                    "q",
                    {{"t", args(1), unique(i % 2 == 0 ? a : b)},
                     {"t", args(2), unique(i % 2 == 0 ? b : a)}});
          ++calls;
        } catch (const Error& error) {
          if (error.sqlstate() == "40P01") {
            ++deadlocks;
          } else {
            throw;
          }
        }
        if (round % 4 == 0) { // make room: the keys free up again
          PQclear(PQexec(pg, "SELECT pgtq.cancel_all(queue => 'q')"));
        }
      }
    });
  }
  for (std::thread& thread : threads) {
    thread.join();
  }
  MESSAGE("push_many calls: " << calls.load() << ", deadlocks: " << deadlocks.load());
  CHECK(deadlocks.load() == 0);
}
