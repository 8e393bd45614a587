// Every pgtqctl argument is checked as the SQL functions check theirs: a bad one ends the
// process with a non-zero exit code and a message naming it, and changes nothing.
#include "pgtq/client.hpp"
#include "support/ctl_process.hpp"
#include "support/sql.hpp"
#include "support/test_database.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using namespace pgtq;
using pgtq::test::pgtqctl;
using pgtq::test::Run;

namespace {

struct BadCall {
  std::vector<std::string> args;
  int exit_code;     // 64: refused by pgtqctl; 1: refused by the database
  std::string names; // text the message must contain
};

std::string digest(db::Connection& conn) {
  return test::scalar(
      conn,
      "SELECT md5(coalesce((SELECT string_agg(t::text, '|' ORDER BY id) FROM pgtq.live_tasks t), "
      "'')"
      " || coalesce((SELECT string_agg(f::text, '|' ORDER BY id) FROM pgtq.finished_tasks f), '')"
      " || coalesce((SELECT string_agg(r::text, '|' ORDER BY queue, state) FROM pgtq.retention r),"
      " '')"
      " || (SELECT last_value || ':' || is_called FROM pgtq.task_id_seq))");
}

} // namespace

TEST_CASE("pgtqctl refuses every bad argument with a message naming it and changes nothing") {
  test::TestDatabase database;
  db::Connection conn = database.connect();
  PGconn* pg = conn.native();
  const std::int64_t last = push(pg, "q", "t", 1);
  push(pg, "q", "later", json("[]"), {.delay = std::chrono::hours(1)});
  const std::vector<ClaimedTask> claimed = pop(pg, "q", {"t"}, 1, "w");
  REQUIRE(claimed.size() == 1);
  REQUIRE(complete(pg, claimed[0], "1")); // history that a bad prune would delete
  // The largest id there is: a clamped 9223372036854775808 would cancel it.
  test::query(conn, "UPDATE pgtq.live_tasks SET id = 9223372036854775807 WHERE task = 'later'");
  CHECK(last > 0);

  const std::string deep = std::string(200, '[') + std::string(200, ']');
  const std::string huge_numbers = "[1e131071,1e131071,1e131071,1e131071,1e131071,1e131071,"
                                   "1e131071,1e131071,1e131071]";
  const std::vector<BadCall> calls{
      {{"cancel", "9223372036854775808"}, 64, "task id"},
      {{"cancel", "-1"}, 64, "task id"},
      {{"cancel", "0"}, 64, "task id"},
      {{"cancel", "abc"}, 64, "task id"},
      {{"cancel", "12abc"}, 64, "task id"},
      {{"cancel", "1e3"}, 64, "task id"},
      {{"cancel", ""}, 64, "task id"},
      {{"cancel", " 7"}, 64, "task id"},
      {{"cancel"}, 64, "--all"},
      {{"cancel", "5", "--all"}, 64, "not both"},
      {{"cancel", "5", "--queue", "q"}, 64, "--all"},
      {{"cancel", "--all", "--queue", "a b"}, 64, "--queue"},
      {{"cancel", "--all", "--task", ""}, 64, "--task"},
      {{"cancel", "--all", "--state", "succeeded"}, 64, "--state"},
      {{"cancel", "--all", "--state", "bogus"}, 64, "--state"},
      {{"cancel", "--all", "--limit", "0"}, 64, "--limit"},
      {{"cancel", "--all", "--limit", "100001"}, 64, "--limit"},
      {{"cancel", "--all", "--created-after", "garbage"}, 64, "--created-after"},
      {{"cancel", "--all", "--created-before", "2026-13-45"}, 64, "--created-before"},
      {{"retry"}, 64, "--all"},
      {{"retry", "0"}, 64, "task id"},
      {{"retry", "9223372036854775808"}, 64, "task id"},
      {{"retry", "5", "--dry-run"}, 64, "--all"},
      {{"retry", "--all", "--state", "queued"}, 64, "--state"},
      {{"retry", "--all", "--state", "running"}, 64, "--state"},
      {{"retry", "--all", "--error", ""}, 64, "--error"},
      {{"retry", "5", "--limit", "10000"}, 64, "--all"},
      {{"retry", "--all", "--queue", "q;drop"}, 64, "--queue"},
      {{"retry", "--all", "--limit", "-5"}, 64, "--limit"},
      {{"retry", "--all", "--finished-after", "not a time"}, 64, "--finished-after"},
      {{"retry", "--all", "--finished-before", "garbage"}, 64, "--finished-before"},
      {{"delete", "abc"}, 64, "task id"},
      {{"update", "5"}, 64, "at least one"},
      {{"update", "x", "--priority", "1"}, 64, "task id"},
      {{"update", "5", "--priority", "99999"}, 64, "--priority"},
      {{"update", "5", "--max-attempts", "0"}, 64, "--max-attempts"},
      {{"pause", "a b"}, 64, "queue"},
      {{"pause", ""}, 64, "queue"},
      {{"resume", "q;drop"}, 64, "queue"},
      {{"delete", "-3"}, 64, "task id"},
      {{"list", "--state", "bogus"}, 64, "--state"},
      {{"list", "--state", "QUEUED"}, 64, "--state"},
      {{"list", "--state", ""}, 64, "--state"},
      {{"list", "--limit", "-1"}, 64, "--limit"},
      {{"list", "--limit", "0"}, 64, "--limit"},
      {{"list", "--limit", "1e3"}, 64, "--limit"},
      {{"list", "--limit", "99999999999"}, 64, "--limit"},
      {{"list", "--queue", "bad name"}, 64, "--queue"},
      {{"stats", "--queue", ""}, 64, "--queue"},
      {{"stats", "--queue", "a/b"}, 64, "--queue"},
      {{"retention", "--keep", "garbage"}, 64, "--keep"},
      {{"retention", "--keep", "7"}, 64, "--keep"},
      {{"retention", "--keep", "1.5"}, 64, "--keep"},
      {{"retention", "--keep", ""}, 64, "--keep"},
      {{"retention", "--keep", "-1 day"}, 64, "--keep"},
      {{"retention", "--keep", "101 years"}, 64, "--keep"},
      {{"retention", "--keep", "1 mon -29 days"}, 64, "--keep"},
      {{"retention", "--keep", "1 day -1 hour"}, 64, "--keep"},
      {{"retention", "--keep", "2562047789 hours"}, 64, "--keep"},
      {{"retention", "--queue", "a b", "--keep", "1 day"}, 64, "--queue"},
      {{"retention", "--state", "queued", "--keep", "1 day"}, 64, "--state"},
      {{"retention", "--state", "failed"}, 64, "--keep"},
      {{"prune", "--older-than", "-1 day"}, 64, "--older-than"},
      {{"prune", "--older-than", "0"}, 64, "--older-than"},
      {{"prune", "--older-than", "0 seconds"}, 64, "--older-than"},
      {{"prune", "--older-than", "-1 year"}, 64, "--older-than"},
      {{"prune", "--older-than", "garbage"}, 64, "--older-than"},
      {{"prune", "--older-than", "1000000 years"}, 64, "--older-than"},
      {{"prune", "--older-than", "178000000 years"}, 64, "--older-than"},
      {{"prune", "--older-than", ""}, 64, "--older-than"},
      // What CLI11 refuses exits 64 as well, not with CLI11's own code for its kind.
      {{"prune"}, 64, "--older-than"},
      {{"retention", "--keep", "1 day", "extra"}, 64, "extra"},
      {{"push", "", "t"}, 64, "queue"},
      {{"push", "a b", "t"}, 64, "queue"},
      {{"push", "q", std::string(129, 't')}, 64, "task"},
      {{"push", "q", "t", "[]", "--priority", "5.7"}, 64, "--priority"},
      {{"push", "q", "t", "[]", "--priority", "40000"}, 64, "--priority"},
      {{"push", "q", "t", "[]", "--priority", "abc"}, 64, "--priority"},
      {{"push", "q", "t", "[]", "--max-attempts", "0"}, 64, "--max-attempts"},
      {{"push", "q", "t", "[]", "--max-attempts", "1001"}, 64, "--max-attempts"},
      {{"push", "q", "t", "[]", "--max-attempts", "99999999999"}, 64, "--max-attempts"},
      {{"push", "q", "t", "{oops"}, 1, "json"},
      {{"push", "q", "t", "5"}, 1, "args"},
      {{"push", "q", "t", deep}, 1, "args"},
      {{"push", "q", "t", huge_numbers}, 1, "args"},
      {{"push", "q", "t", "[]", "--run-at", "infinity"}, 1, "run_at"},
      {{"push", "q", "t", "[]", "--run-at", "3000-01-01"}, 1, "run_at"},
      {{"push", "q", "t", "[]", "--run-at", "4713-01-01 BC"}, 1, "run_at"},
      {{"push", "q", "t", "[]", "--run-at", "garbage"}, 1, "timestamp"},
      {{"push", "q", "t", "[]", "--delay", "-1 day"}, 1, "delay"},
      {{"push", "q", "t", "[]", "--delay", "300 years"}, 1, "delay"},
      {{"push", "q", "t", "[]", "--delay", "garbage"}, 1, "interval"},
  };
  std::string before = digest(conn);
  for (const BadCall& call : calls) {
    std::string shown;
    for (const std::string& arg : call.args) {
      shown += " '" + arg.substr(0, 60) + "'";
    }
    CAPTURE(shown);
    const Run run = pgtqctl(database.dsn(), call.args);
    CHECK_MESSAGE(run.exit_code == call.exit_code, run.output);
    CHECK_MESSAGE(run.output.find(call.names) != std::string::npos, run.output);
    const std::string after = digest(conn);
    CHECK_MESSAGE(after == before, "data changed: " << run.output);
    before = after;
  }
}
