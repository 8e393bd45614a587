// Dependencies (sql/schema/20_dependencies.sql): a task pushed with depends_on waits, pending,
// until its parents have ended; it runs after they succeed, with their results; a parent that
// fails for good, is cancelled or deleted cancels it (on_parent_failure cancel) or lets it
// run once all have ended (run); every path that ends a task settles its dependents, and two
// ends at the same instant, or an end committed while the dependent is pushed, lose nothing.
#include "pgtq/client.hpp"
#include "support/ctl_process.hpp"
#include "support/sql.hpp"
#include "support/task_state.hpp"
#include "support/test_database.hpp"

#include <doctest/doctest.h>

#include <future>
#include <string>

using namespace pgtq;
using namespace pgtq::test;

namespace {

std::string state_of(db::Connection& connection, const std::string& id) {
  return field(connection, "state", id);
}

std::string push_task(db::Connection& connection,
                      const std::string& task,
                      const std::string& depends_on = "",
                      const std::string& policy = "cancel") {
  if (depends_on.empty()) {
    return scalar(connection, "SELECT pgtq.push('q', $1)", {task});
  }
  return scalar(connection,
                "SELECT pgtq.push('q', $1, depends_on => $2::bigint[], on_parent_failure => $3)",
                {task, depends_on, policy});
}

// Claims task id (the only one of its name queued) and records status for it, with result.
void finish(db::Connection& connection,
            const std::string& id,
            const std::string& status,
            const std::string& result = "null") {
  const std::string claim =
      scalar(connection,
             "SELECT c.claim FROM pgtq.claim('q', ARRAY[(SELECT task FROM pgtq.live_tasks"
             " WHERE id = $1::bigint)], 1, 'w') c WHERE c.id = $1::bigint",
             {id});
  REQUIRE_MESSAGE(!claim.empty(), "task " << id << " was not claimed");
  query(connection,
        "SELECT pgtq.finish_many(jsonb_build_array(jsonb_build_object('id', $1::bigint,"
        " 'claim', $2::bigint, 'status', $3::text, 'result', $4::jsonb, 'error', 'it broke')))",
        {id, claim, status, result});
}

std::string parents_claimed(db::Connection& connection, const std::string& task) {
  return scalar(connection, "SELECT parents::text FROM pgtq.claim('q', ARRAY[$1], 1, 'w')", {task});
}

} // namespace

TEST_CASE("a task with two parents stays pending until both succeed, then runs with both "
          "results") {
  TestDatabase database;
  db::Connection connection = database.connect();
  const std::string a = push_task(connection, "a");
  const std::string b = push_task(connection, "b");
  const std::string child = push_task(connection, "child", "{" + b + "," + a + "," + a + "}");
  CHECK(state_of(connection, child) == "pending");
  CHECK(field(connection, "depends_on", child) == "{" + a + "," + b + "}");
  CHECK(field(connection, "on_parent_failure", child) == "cancel");
  // Pending is not claimable, and queue_stats counts it.
  CHECK(scalar(connection, "SELECT count(*) FROM pgtq.claim('q', '{child}', 10, 'w')") == "0");
  CHECK(scalar(connection, "SELECT pending FROM pgtq.queue_stats WHERE queue = 'q'") == "1");

  finish(connection, a, "done", R"({"rows": 10})");
  CHECK(state_of(connection, child) == "pending");
  finish(connection, b, "done", R"("b's result")");
  CHECK(state_of(connection, child) == "queued");
  CHECK(parents_claimed(connection, "child") ==
        R"([{"id": )" + a + R"(, "task": "a", "state": "succeeded", "result": {"rows": 10}}, )" +
            R"({"id": )" + b + R"(, "task": "b", "state": "succeeded", "result": "b's result"}])");
  // A task without parents is claimed with none.
  push_task(connection, "plain");
  CHECK(scalar(connection,
               "SELECT coalesce(parents::text, 'NULL') FROM pgtq.claim('q', "
               "'{plain}', 1, 'w')") == "NULL");
}

TEST_CASE("the parents' results reach the dependent even when retention has removed the parents") {
  TestDatabase database;
  db::Connection connection = database.connect();
  const std::string a = push_task(connection, "a");
  const std::string child = push_task(connection, "child", "{" + a + "}");
  finish(connection, a, "done", "42");
  query(connection, "SELECT pgtq.delete($1::bigint)", {a});
  CHECK(state_of(connection, child) == "queued");
  CHECK(parents_claimed(connection, "child") ==
        R"([{"id": )" + a + R"(, "task": "a", "state": "succeeded", "result": 42}])");
  CHECK(scalar(connection, "SELECT pgtq.task_parents($1::bigint)::text", {child}) ==
        R"([{"id": )" + a + R"(, "task": "a", "state": "succeeded", "result": 42}])");
}

TEST_CASE("a parent that fails for good cancels its dependents down a chain (on_parent_failure "
          "cancel), and a run dependent runs once all its parents have ended") {
  TestDatabase database;
  db::Connection connection = database.connect();
  const std::string a = push_task(connection, "a");
  const std::string ok = push_task(connection, "ok");
  // A chain of 300 behind a: each cancel settles the next, as a loop, not a recursion.
  std::string previous = a;
  std::string first_link;
  for (int link = 0; link < 300; ++link) {
    previous = push_task(connection, "link", "{" + previous + "}");
    if (first_link.empty()) {
      first_link = previous;
    }
  }
  const std::string fan_in = push_task(connection, "fan_in", "{" + a + "," + ok + "}", "run");
  finish(connection, a, "fail");
  CHECK(state_of(connection, first_link) == "cancelled");
  CHECK(field(connection, "last_error", first_link) == "parent task " + a + " failed");
  CHECK(state_of(connection, previous) == "cancelled");
  CHECK(count(connection,
              "SELECT count(*) FROM pgtq.tasks WHERE task = 'link'"
              " AND state = 'cancelled'") == 300);
  // The fan-in waits for its other parent, then runs and sees both outcomes.
  CHECK(state_of(connection, fan_in) == "pending");
  finish(connection, ok, "done", "1");
  CHECK(state_of(connection, fan_in) == "queued");
  CHECK(parents_claimed(connection, "fan_in") ==
        R"([{"id": )" + a + R"(, "task": "a", "state": "failed", "result": null}, {"id": )" + ok +
            R"(, "task": "ok", "state": "succeeded", "result": 1}])");
  // Nothing is left behind once the tasks have ended.
  CHECK(count(connection,
              "SELECT count(*) FROM pgtq.task_dependencies"
              " WHERE task_id <> $1::bigint",
              {fan_in}) == 0);
}

TEST_CASE("every way a parent ends or goes settles its dependents: cancel, cancel_all, delete, "
          "delete_all, a lease that ran out with no attempt left, and a retry that succeeds") {
  TestDatabase database;
  db::Connection connection = database.connect();
  auto dependent_of = [&](const std::string& parent) {
    return push_task(connection, "child", "{" + parent + "}");
  };
  const std::string cancelled = push_task(connection, "p");
  const std::string c1 = dependent_of(cancelled);
  query(connection, "SELECT pgtq.cancel($1::bigint)", {cancelled});
  CHECK(field(connection, "last_error", c1) == "parent task " + cancelled + " was cancelled");

  const std::string bulk = scalar(connection, "SELECT pgtq.push('q', 'bulk')");
  const std::string c2 = dependent_of(bulk);
  query(connection, "SELECT pgtq.cancel_all(task => 'bulk')");
  CHECK(state_of(connection, c2) == "cancelled");

  const std::string deleted = push_task(connection, "p");
  const std::string c3 = dependent_of(deleted);
  query(connection, "SELECT pgtq.delete($1::bigint)", {deleted});
  CHECK(field(connection, "last_error", c3) == "parent task " + deleted + " was deleted");

  const std::string deleted_all = scalar(connection, "SELECT pgtq.push('q', 'gone')");
  const std::string c4 = dependent_of(deleted_all);
  query(connection, "SELECT pgtq.delete_all('{queued}', task => 'gone')");
  CHECK(state_of(connection, c4) == "cancelled");

  const std::string expired =
      scalar(connection, "SELECT pgtq.push('q', 'expires', max_attempts => 1)");
  const std::string c5 = dependent_of(expired);
  query(connection, "SELECT pgtq.claim('q', '{expires}', 1, 'w')");
  query(connection,
        "UPDATE pgtq.live_tasks SET locked_until = now() - interval '1 second'"
        " WHERE id = $1::bigint",
        {expired});
  query(connection, "SELECT pgtq.tick()");
  CHECK(state_of(connection, expired) == "failed");
  CHECK(state_of(connection, c5) == "cancelled");

  // A retry is no end: the dependent waits for the attempt that succeeds.
  const std::string flaky = push_task(connection, "flaky");
  const std::string c6 = dependent_of(flaky);
  finish(connection, flaky, "retry");
  CHECK(state_of(connection, c6) == "pending");
  query(connection, "UPDATE pgtq.live_tasks SET run_at = now() WHERE id = $1::bigint", {flaky});
  query(connection, "SELECT pgtq.tick()");
  finish(connection, flaky, "done");
  CHECK(state_of(connection, c6) == "queued");

  // A pending task cancelled by hand takes its own dependents with it.
  const std::string root = push_task(connection, "root");
  const std::string middle = dependent_of(root);
  const std::string leaf = dependent_of(middle);
  query(connection, "SELECT pgtq.cancel($1::bigint)", {middle});
  CHECK(state_of(connection, leaf) == "cancelled");
  CHECK(state_of(connection, root) == "queued");
}

TEST_CASE("a dependent pushed after its parents ended is settled at its push") {
  TestDatabase database;
  db::Connection connection = database.connect();
  const std::string good = push_task(connection, "good");
  const std::string bad = push_task(connection, "bad");
  finish(connection, good, "done", "7");
  finish(connection, bad, "fail");
  CHECK(state_of(connection, push_task(connection, "c", "{" + good + "}")) == "queued");
  const std::string doomed = push_task(connection, "c", "{" + good + "," + bad + "}");
  CHECK(state_of(connection, doomed) == "cancelled");
  CHECK(field(connection, "last_error", doomed) == "parent task " + bad + " failed");
  CHECK(state_of(connection, push_task(connection, "c", "{" + bad + "}", "run")) == "queued");
  // A delayed dependent whose parents have ended waits for its run_at.
  const std::string later =
      scalar(connection,
             "SELECT pgtq.push('q', 'later', delay => '1 hour', depends_on => ARRAY[$1::bigint])",
             {good});
  CHECK(state_of(connection, later) == "scheduled");
  // push_many's JSON form takes depends_on too, per element.
  const db::Result ids =
      query(connection,
            "SELECT id FROM pgtq.push_many('q', jsonb_build_array("
            "jsonb_build_object('task', 'm1', 'depends_on', jsonb_build_array($1::bigint)),"
            "jsonb_build_object('task', 'm2'),"
            "jsonb_build_object('task', 'm3', 'depends_on', jsonb_build_array($2::bigint),"
            " 'on_parent_failure', 'run'))) AS id",
            {good, bad});
  REQUIRE(ids.rows() == 3);
  CHECK(state_of(connection, ids.string(0, 0)) == "queued");
  CHECK(state_of(connection, ids.string(1, 0)) == "queued");
  CHECK(state_of(connection, ids.string(2, 0)) == "queued");
  const std::string live = push_task(connection, "live");
  const db::Result waiting =
      query(connection,
            "SELECT id FROM pgtq.push_many('q', jsonb_build_array(jsonb_build_object('task', 'm4',"
            " 'depends_on', jsonb_build_array($1::bigint)))) AS id",
            {live});
  CHECK(state_of(connection, waiting.string(0, 0)) == "pending");
}

TEST_CASE("two parents of one task ending at the same instant in two transactions release it") {
  TestDatabase database;
  db::Connection connection = database.connect();
  db::Connection other = database.connect();
  const std::string a = push_task(connection, "a");
  const std::string b = push_task(connection, "b");
  const std::string child = push_task(connection, "child", "{" + a + "," + b + "}");
  query(connection, "BEGIN");
  finish(connection, a, "done");
  // The second end must wait for the first: were it to settle the child on its own snapshot,
  // each would see the other's parent still live, and the child would wait for ever.
  auto second = std::async(std::launch::async, [&] {
    query(other, "BEGIN");
    finish(other, b, "done");
    query(other, "COMMIT");
  });
  CHECK(second.wait_for(300ms) == std::future_status::timeout);
  query(connection, "COMMIT");
  second.get();
  CHECK(state_of(connection, child) == "queued");
}

TEST_CASE("a dependent pushed while its parent's end is being committed waits for it and sees "
          "the end, and an end outside READ COMMITTED is settled by the next tick") {
  TestDatabase database;
  db::Connection connection = database.connect();
  db::Connection other = database.connect();
  const std::string a = push_task(connection, "a");
  query(connection, "BEGIN");
  finish(connection, a, "done", "3");
  auto pushed =
      std::async(std::launch::async, [&] { return push_task(other, "c", "{" + a + "}"); });
  CHECK(pushed.wait_for(300ms) == std::future_status::timeout);
  query(connection, "COMMIT");
  const std::string child = pushed.get();
  CHECK(state_of(connection, child) == "queued");

  // A parent ended in REPEATABLE READ, with a snapshot older than its dependent's push: the
  // end cannot see the dependent, the tick settles it.
  const std::string p = push_task(connection, "p");
  const std::string claim = scalar(connection, "SELECT claim FROM pgtq.claim('q', '{p}', 1, 'w')");
  query(connection, "BEGIN ISOLATION LEVEL REPEATABLE READ");
  query(connection, "SELECT 1");
  const std::string late = push_task(other, "late", "{" + p + "}");
  query(connection,
        "SELECT pgtq.finish_many(ARRAY[$1::bigint], ARRAY[$2::bigint], '{done}', '{null}',"
        " '{NULL}', '{0}')",
        {p, claim});
  query(connection, "COMMIT");
  CHECK(state_of(connection, late) == "pending");
  query(connection, "SELECT pgtq.tick()");
  CHECK(state_of(connection, late) == "queued");
}

TEST_CASE("pending tasks under operators: update keeps one pending, a retried dependent runs at "
          "once and reads its parents from the history") {
  TestDatabase database;
  db::Connection connection = database.connect();
  const std::string a = push_task(connection, "a");
  const std::string child = push_task(connection, "child", "{" + a + "}");
  query(connection, "SELECT pgtq.update($1::bigint, run_at => now())", {child});
  CHECK(state_of(connection, child) == "pending");
  CHECK(count(connection, "SELECT pgtq.cancel_all(states => '{pending}', dry_run => true)") == 1);

  finish(connection, a, "fail");
  CHECK(state_of(connection, child) == "cancelled");
  query(connection, "SELECT pgtq.retry($1::bigint)", {child});
  CHECK(state_of(connection, child) == "queued");
  CHECK(parents_claimed(connection, "child") ==
        R"([{"id": )" + a + R"(, "task": "a", "state": "failed", "result": null}])");
}

TEST_CASE("the C++ client (push, push_many in both of its paths, PreparedPusher) and pgtqctl "
          "push take depends_on and on_parent_failure") {
  TestDatabase database;
  db::Connection connection = database.connect();
  PGconn* pg = connection.native();
  const std::int64_t parent = push(pg, "q", "parent");
  const std::string parents = "{" + std::to_string(parent) + "}";
  const auto state = [&](std::int64_t id) { return state_of(connection, std::to_string(id)); };
  const auto depends_on = [&](std::int64_t id) {
    return field(connection, "depends_on::text || ' ' || on_parent_failure", std::to_string(id));
  };

  const std::int64_t one = push(pg, "q", "child", {.depends_on = {parent}});
  CHECK(state(one) == "pending");
  CHECK(depends_on(one) == parents + " cancel");
  const std::vector<std::int64_t> many = push_many(
      pg,
      "q",
      {{"child", args(1), {.depends_on = {parent}, .on_parent_failure = OnParentFailure::run}},
       {"child", args(2)}});
  REQUIRE(many.size() == 2);
  CHECK(depends_on(many[0]) == parents + " run");
  CHECK(state(many[1]) == "queued");
  // With a unique key too: such calls push one task at a time.
  const std::vector<std::int64_t> keyed = push_many(
      pg, "q", {{"child", args(3), {.unique = Unique{.key = "k"}, .depends_on = {parent}}}});
  CHECK(state(keyed.at(0)) == "pending");
  PreparedPusher pusher(pg);
  CHECK(state(pusher.push("q", "child", args(4), {.depends_on = {parent}})) == "pending");
  CHECK(state(pusher.push("q", "child", args(5), {})) == "queued");

  // An unknown parent is refused with the server's SQLSTATE, naming it, and pushes nothing.
  try {
    push_many(pg, "q", {{"child", args(6), {.depends_on = {parent, 987654321}}}});
    FAIL("accepted");
  } catch (const Error& error) {
    CHECK(error.sqlstate() == "23503");
    CHECK(std::string(error.what()).find("987654321") != std::string::npos);
  }

  const Run pushed = pgtqctl(
      database.dsn(),
      {"push", "q", "child", "--depends-on", std::to_string(parent), "--on-parent-failure", "run"});
  REQUIRE_MESSAGE(pushed.exit_code == 0, pushed.output);
  const std::int64_t by_ctl = std::stoll(pushed.output);
  CHECK(depends_on(by_ctl) == parents + " run");
  const Run listed = pgtqctl(database.dsn(), {"list", "--state", "pending"});
  CHECK(listed.exit_code == 0);
  CHECK(listed.output.find("depends_on") != std::string::npos);
  CHECK(listed.output.find(std::to_string(by_ctl)) != std::string::npos);
  const Run bad = pgtqctl(database.dsn(), {"push", "q", "child", "--depends-on", "x1"});
  CHECK(bad.exit_code == 64);
  CHECK(bad.output.find("--depends-on") != std::string::npos);
  const Run bad_policy = pgtqctl(database.dsn(),
                                 {"push",
                                  "q",
                                  "child",
                                  "--depends-on",
                                  std::to_string(parent),
                                  "--on-parent-failure",
                                  "maybe"});
  CHECK(bad_policy.exit_code != 0);
  CHECK(bad_policy.output.find("on_parent_failure") != std::string::npos);
}

TEST_CASE("two parents ending at once, the second in REPEATABLE READ with an older snapshot, "
          "leave their child to the next tick, which queues it") {
  TestDatabase database;
  db::Connection connection = database.connect();
  db::Connection other = database.connect();
  const std::string a = push_task(connection, "a");
  const std::string b = push_task(connection, "b");
  const std::string child = push_task(connection, "child", "{" + a + "," + b + "}");
  const std::string claim_b = scalar(other, "SELECT claim FROM pgtq.claim('q', '{b}', 1, 'w')");
  query(other, "BEGIN ISOLATION LEVEL REPEATABLE READ");
  query(other, "SELECT 1"); // its snapshot: a still live
  finish(connection, a, "done");
  query(other,
        "SELECT pgtq.finish_many(ARRAY[$1::bigint], ARRAY[$2::bigint], '{done}', '{null}',"
        " '{NULL}', '{0}')",
        {b, claim_b});
  query(other, "COMMIT");
  // Its snapshot saw a live: had it settled the child, the child would wait for ever.
  CHECK(state_of(connection, child) == "pending");
  CHECK(count(connection, "SELECT count(*) FROM pgtq.unsettled_ends") == 1);
  query(connection, "SELECT pgtq.tick()");
  CHECK(state_of(connection, child) == "queued");
  CHECK(count(connection, "SELECT count(*) FROM pgtq.unsettled_ends") == 0);
}
