// pgtqctl, the operator's command line, run as a process against a real database.
#include "support/ctl_process.hpp"
#include "support/sql.hpp"
#include "support/test_database.hpp"

#include <doctest/doctest.h>

using namespace pgtq;
using namespace pgtq::test;

TEST_CASE("pgtqctl migrates, pushes, shows, cancels and prunes") {
  EmptyDatabase database;
  const Run migrated = pgtqctl(database.dsn(), {"migrate"});
  CHECK(migrated.exit_code == 0);
  CHECK(migrated.output.find("applied 0001_init.sql") != std::string::npos);
  // The option may follow the subcommand too: pgtqctl migrate --dsn DSN.
  const Run again = pgtqctl(database.dsn(), {"migrate"}, true);
  CHECK_MESSAGE(again.exit_code == 0, again.output);
  CHECK(again.output.find("already up to date") != std::string::npos);
  CHECK(pgtqctl(database.dsn(), {"schema-version"}).exit_code == 0);

  const Run pushed =
      pgtqctl(database.dsn(), {"push", "mail", "send", "{\"to\": 1}", "--priority", "-3"});
  REQUIRE(pushed.exit_code == 0);
  const std::string id = pushed.output.substr(0, pushed.output.find('\n'));
  db::Connection connection = database.connect();
  CHECK(scalar(connection, "SELECT priority FROM pgtq.tasks WHERE id = $1", {id}) == "-3");
  CHECK(pgtqctl(database.dsn(), {"push", "mail", "later", "[]", "--delay", "1 hour"}).exit_code ==
        0);
  const Run limited =
      pgtqctl(database.dsn(), {"push", "mail", "slow", "[]", "--timeout", "90 seconds"});
  REQUIRE(limited.exit_code == 0);
  CHECK(scalar(connection,
               "SELECT timeout FROM pgtq.tasks WHERE id = $1",
               {limited.output.substr(0, limited.output.find('\n'))}) == "00:01:30");
  const Run refused = pgtqctl(database.dsn(), {"push", "mail", "slow", "[]", "--timeout", "0"});
  CHECK(refused.exit_code == 1);
  CHECK_MESSAGE(refused.output.find("timeout must be more than 0") != std::string::npos,
                refused.output);

  const Run stats = pgtqctl(database.dsn(), {"stats"});
  CHECK(stats.exit_code == 0);
  CHECK(stats.output.find("mail   queued") != std::string::npos);
  CHECK(stats.output.find("mail   scheduled") != std::string::npos);

  const Run listed = pgtqctl(database.dsn(), {"list", "--state", "queued"});
  CHECK(listed.output.find("send") != std::string::npos);
  CHECK(listed.output.find("later") == std::string::npos);

  CHECK(pgtqctl(database.dsn(), {"cancel", id}).exit_code == 0);
  CHECK(scalar(connection, "SELECT state FROM pgtq.tasks WHERE id = $1", {id}) == "cancelled");
  const Run twice = pgtqctl(database.dsn(), {"cancel", id});
  CHECK(twice.exit_code == 1);
  CHECK_MESSAGE(twice.output.find("not cancelled: it is cancelled") != std::string::npos,
                twice.output);

  const Run pruned = pgtqctl(database.dsn(), {"prune", "--older-than", "1 microsecond"});
  CHECK(pruned.exit_code == 0);
  CHECK(pruned.output.find("removed 1 finished tasks") != std::string::npos);
  CHECK(count(connection, "SELECT count(*) FROM pgtq.tasks") == 2);
}

TEST_CASE("pgtqctl retries failed tasks, cancels in bulk, deletes, pauses and resumes, with dry "
          "runs that change nothing") {
  TestDatabase database;
  db::Connection conn = database.connect();
  // Three failed tasks (two of queue q, one saying "timeout"), one cancelled, one waiting.
  for (const char* error : {"connection refused", "timeout", "connection refused"}) {
    query(conn, "SELECT pgtq.push($1, 't')", {std::string(error) == "timeout" ? "q" : "r"});
  }
  query(conn,
        "WITH c AS (SELECT * FROM pgtq.claim('r', '{t}', 10, 'w'))"
        " SELECT pgtq.fail(c.id, c.claim, 'connection refused', permanent => true) FROM c");
  query(conn,
        "WITH c AS (SELECT * FROM pgtq.claim('q', '{t}', 10, 'w'))"
        " SELECT pgtq.fail(c.id, c.claim, 'timeout', permanent => true) FROM c");
  const std::string waiting = scalar(conn, "SELECT pgtq.push('q', 'w', delay => '1 hour')");
  const std::string gone = scalar(conn, "SELECT pgtq.push('q', 'x')");
  REQUIRE(scalar(conn, "SELECT pgtq.cancel($1)", {gone}) == "t");
  const auto state_count = [&](const char* state) {
    return count(conn, "SELECT count(*) FROM pgtq.tasks WHERE state::text = $1", {state});
  };
  REQUIRE(state_count("failed") == 3);

  const Run dry = pgtqctl(database.dsn(), {"retry", "--all", "--error", "refused", "--dry-run"});
  CHECK_MESSAGE(dry.exit_code == 0, dry.output);
  CHECK(dry.output == "would retry 2 tasks\n");
  CHECK(state_count("failed") == 3);
  // One task per call: pgtqctl calls until every match is done.
  const Run some = pgtqctl(database.dsn(), {"retry", "--all", "--queue", "r", "--limit", "1"});
  CHECK_MESSAGE(some.output == "retried 2 tasks\n", some.output);
  CHECK(state_count("failed") == 1);
  CHECK(pgtqctl(database.dsn(), {"retry", "--all"}).output == "retried 1 task\n");
  CHECK(state_count("failed") == 0);
  CHECK(state_count("queued") == 3);
  // Retried tasks keep their errors, and get one more attempt.
  CHECK(count(conn,
              "SELECT count(*) FROM pgtq.tasks WHERE state = 'queued' AND attempts = 1"
              " AND max_attempts = 5 AND jsonb_array_length(errors) = 1") == 3);
  const Run one = pgtqctl(database.dsn(), {"retry", gone});
  CHECK_MESSAGE(one.exit_code == 0, one.output);
  CHECK(one.output == "task " + gone + " queued again\n");
  const Run again = pgtqctl(database.dsn(), {"retry", gone});
  CHECK(again.exit_code == 1);
  CHECK_MESSAGE(again.output.find("it is queued") != std::string::npos, again.output);

  const Run cancel_dry = pgtqctl(database.dsn(), {"cancel", "--all", "--queue", "q", "--dry-run"});
  CHECK_MESSAGE(cancel_dry.output.find("would cancel 3 tasks") == 0, cancel_dry.output);
  const Run cancelled =
      pgtqctl(database.dsn(), {"cancel", "--all", "--queue", "q", "--state", "scheduled"});
  CHECK_MESSAGE(cancelled.output == "cancelled 1 task\n", cancelled.output);
  CHECK(scalar(conn, "SELECT state::text FROM pgtq.tasks WHERE id = $1", {waiting}) == "cancelled");

  const Run deleted = pgtqctl(database.dsn(), {"delete", waiting});
  CHECK_MESSAGE(deleted.output == "task " + waiting + " deleted\n", deleted.output);
  CHECK(count(conn, "SELECT count(*) FROM pgtq.tasks WHERE id = $1", {waiting}) == 0);
  CHECK(pgtqctl(database.dsn(), {"delete", waiting}).exit_code == 1);

  const Run updated =
      pgtqctl(database.dsn(), {"update", gone, "--args", "[7]", "--priority", "-3"});
  CHECK_MESSAGE(updated.output == "task " + gone + " updated\n", updated.output);
  CHECK(scalar(conn,
               "SELECT args::text || ' ' || priority FROM pgtq.tasks WHERE id = $1",
               {gone}) == "[7] -3");
  const Run bad_args = pgtqctl(database.dsn(), {"update", gone, "--args", "5"});
  CHECK(bad_args.exit_code == 1);
  CHECK_MESSAGE(bad_args.output.find("args") != std::string::npos, bad_args.output);

  const Run paused = pgtqctl(database.dsn(), {"pause", "q"});
  CHECK_MESSAGE(paused.output.find("queue q paused") == 0, paused.output);
  CHECK(count(conn, "SELECT count(*) FROM pgtq.claim('q', '{t,x}', 10, 'w')") == 0);
  CHECK(pgtqctl(database.dsn(), {"pause", "q"}).output.find("was paused already") !=
        std::string::npos);
  CHECK(pgtqctl(database.dsn(), {"resume", "q"}).output == "queue q resumed\n");
  CHECK(count(conn, "SELECT count(*) FROM pgtq.claim('q', '{t,x}', 10, 'w')") == 2);
}

TEST_CASE("pgtqctl reports bad arguments with exit code 64 and database errors with 1") {
  TestDatabase database;
  const Run bad_name = pgtqctl(database.dsn(), {"push", "mail", "bad name"});
  CHECK(bad_name.exit_code == 64);
  CHECK(bad_name.output.find("task must be 1 to 128 characters from [A-Za-z0-9_.:-]") !=
        std::string::npos);
  const Run bad_json = pgtqctl(database.dsn(), {"push", "mail", "send", "{oops"});
  CHECK(bad_json.exit_code == 1);
  CHECK(bad_json.output.find("json") != std::string::npos);
  const Run unreachable = pgtqctl("host=/nonexistent-dir dbname=x connect_timeout=1", {"stats"});
  CHECK(unreachable.exit_code == 1);
  CHECK(unreachable.output.find("cannot connect") != std::string::npos);
}

TEST_CASE("pgtqctl pushes unique tasks, says who holds a key, and prints no PL/pgSQL context") {
  TestDatabase database;
  db::Connection conn = database.connect();
  const Run first = pgtqctl(database.dsn(), {"push", "q", "t", "[1]", "--unique-key", "k"});
  REQUIRE_MESSAGE(first.exit_code == 0, first.output);
  const std::string id = first.output.substr(0, first.output.find('\n'));
  CHECK(pgtqctl(database.dsn(), {"push", "q", "t", "[2]", "--unique-key", "k"}).output ==
        id + "\n");
  const Run raised = pgtqctl(
      database.dsn(), {"push", "q", "t", "[2]", "--unique-key", "k", "--on-conflict", "raise"});
  CHECK(raised.exit_code == 1);
  CHECK_MESSAGE(raised.output.find("unique key \"k\": task " + id) != std::string::npos,
                raised.output);
  CHECK_MESSAGE(raised.output.find("CONTEXT") == std::string::npos, raised.output);
  const Run bad_state =
      pgtqctl(database.dsn(), {"push", "q", "t", "[]", "--unique-key", "k", "--unique-state", "x"});
  CHECK(bad_state.exit_code == 64);
  CHECK_MESSAGE(bad_state.output.find("--unique-state") != std::string::npos, bad_state.output);
  const Run period = pgtqctl(database.dsn(),
                             {"push",
                              "q",
                              "t",
                              "[]",
                              "--unique-key",
                              "k2",
                              "--unique-period",
                              "1 hour",
                              "--unique-state",
                              "queued",
                              "--unique-state",
                              "scheduled",
                              "--unique-state",
                              "running",
                              "--unique-state",
                              "failed"});
  CHECK_MESSAGE(period.exit_code == 0, period.output);

  // A failed task whose key a live task holds: retry says so.
  query(conn,
        "WITH c AS (SELECT * FROM pgtq.claim('q', '{t}', 1, 'w'))"
        " SELECT pgtq.fail(c.id, c.claim, 'boom', permanent => true) FROM c");
  REQUIRE(scalar(conn, "SELECT state::text FROM pgtq.tasks WHERE id = $1", {id}) == "failed");
  CHECK(scalar(conn, "SELECT pgtq.push('q', 't', unique_key => 'k')") != id);
  const Run held = pgtqctl(database.dsn(), {"retry", id});
  CHECK(held.exit_code == 1);
  CHECK_MESSAGE(held.output.find("holds its unique key") != std::string::npos, held.output);
  CHECK(pgtqctl(database.dsn(), {"retry", "--all"}).output == "retried 0 tasks\n");
}

TEST_CASE("pgtqctl list shows each task's unique key and filters by it") {
  TestDatabase database;
  db::Connection conn = database.connect();
  query(conn, "SELECT pgtq.push('q', 't', unique_key => 'report:daily')");
  query(conn, "SELECT pgtq.push('q', 't', unique_key => 'report:weekly')");
  query(conn, "SELECT pgtq.push('q', 'plain')");
  const Run all = pgtqctl(database.dsn(), {"list"});
  CHECK_MESSAGE(all.output.find("unique_key") != std::string::npos, all.output);
  CHECK(all.output.find("report:weekly") != std::string::npos);
  const Run one = pgtqctl(database.dsn(), {"list", "--unique-key", "report:daily"});
  CHECK_MESSAGE(one.output.find("report:daily") != std::string::npos, one.output);
  CHECK(one.output.find("report:weekly") == std::string::npos);
  CHECK(one.output.find("plain") == std::string::npos);
}

TEST_CASE("pgtqctl queue shows a queue's settings and sets its global concurrency") {
  TestDatabase database;
  db::Connection conn = database.connect();
  query(conn, "SELECT pgtq.push('q', 't')");
  CHECK(pgtqctl(database.dsn(), {"queue", "q"}).output ==
        "queue q: not paused, global concurrency unlimited, rate limit none, per fairness key "
        "unlimited; new tasks: priority 0, max attempts 5, no timeout of their own; 0 running, 1 "
        "queued\n");
  const Run set = pgtqctl(database.dsn(), {"queue", "q", "--global-concurrency", "3"});
  CHECK_MESSAGE(
      set.output ==
          "queue q: not paused, global concurrency 3, rate limit none, per fairness key "
          "unlimited; new tasks: priority 0, max attempts 5, no timeout of their own; 0 running, 1 "
          "queued\n",
      set.output);
  CHECK(scalar(conn, "SELECT global_concurrency FROM pgtq.queues WHERE queue = 'q'") == "3");
  CHECK(pgtqctl(database.dsn(), {"queue", "q", "--global-concurrency", "none"}).exit_code == 0);
  CHECK(scalar(conn, "SELECT coalesce(global_concurrency, 0) FROM pgtq.queues") == "0");
  const Run bad = pgtqctl(database.dsn(), {"queue", "q", "--global-concurrency", "0"});
  CHECK(bad.exit_code == 64);
  CHECK_MESSAGE(bad.output.find("--global-concurrency") != std::string::npos, bad.output);
  CHECK_MESSAGE(bad.output.find("or none") != std::string::npos, bad.output);

  const Run rate =
      pgtqctl(database.dsn(), {"queue", "q", "--rate-limit", "100", "--rate-period", "1 minute"});
  CHECK_MESSAGE(rate.output.find("rate limit 100 per 00:01:00 (0 started in the last period)") !=
                    std::string::npos,
                rate.output);
  // A new limit without a period keeps the queue's period.
  CHECK(pgtqctl(database.dsn(), {"queue", "q", "--rate-limit", "50"})
            .output.find("rate limit 50 per 00:01:00") != std::string::npos);
  CHECK(pgtqctl(database.dsn(), {"queue", "q", "--rate-limit", "none"})
            .output.find("rate limit none") != std::string::npos);
  const Run bad_period =
      pgtqctl(database.dsn(), {"queue", "q", "--rate-limit", "5", "--rate-period", "1 week"});
  CHECK(bad_period.exit_code == 1);
  CHECK_MESSAGE(bad_period.output.find("per must be") != std::string::npos, bad_period.output);
  CHECK(pgtqctl(database.dsn(), {"queue", "q", "--rate-period", "1 minute"}).exit_code == 64);
  // --reset first, then what else is given.
  const Run reset = pgtqctl(database.dsn(), {"queue", "q", "--reset", "--rate-limit", "7"});
  CHECK_MESSAGE(
      reset.output ==
          "queue q: not paused, global concurrency unlimited, rate limit 7 "
          "per 00:00:01 (0 started in the last period), per fairness key "
          "unlimited; new tasks: priority 0, max attempts 5, no timeout of their own; 0 running, 1 "
          "queued\n",
      reset.output);

  const Run keys = pgtqctl(database.dsn(), {"queue", "q", "--key-concurrency", "2"});
  CHECK_MESSAGE(keys.output.find("per fairness key 2;") != std::string::npos, keys.output);
  CHECK(scalar(conn, "SELECT key_concurrency FROM pgtq.queues WHERE queue = 'q'") == "2");
  CHECK(pgtqctl(database.dsn(), {"queue", "q", "--key-concurrency", "none"})
            .output.find("per fairness key unlimited") != std::string::npos);
  const Run bad_keys = pgtqctl(database.dsn(), {"queue", "q", "--key-concurrency", "100001"});
  CHECK(bad_keys.exit_code == 64);
  CHECK_MESSAGE(bad_keys.output.find("--key-concurrency") != std::string::npos, bad_keys.output);

  // A rate limit per key, beside the limit of running tasks per key.
  const Run key_rate = pgtqctl(database.dsn(),
                               {"queue",
                                "q",
                                "--key-concurrency",
                                "3",
                                "--key-rate-limit",
                                "10",
                                "--key-rate-period",
                                "1 minute"});
  CHECK_MESSAGE(key_rate.output.find("per fairness key 3, key rate limit 10 per 00:01:00;") !=
                    std::string::npos,
                key_rate.output);
  CHECK(scalar(conn, "SELECT key_rate_limit || ' ' || key_rate_period FROM pgtq.queues") ==
        "10 00:01:00");
  CHECK(pgtqctl(database.dsn(), {"queue", "q", "--key-rate-limit", "20"})
            .output.find("key rate limit 20 per 00:01:00;") != std::string::npos);
  CHECK(
      pgtqctl(database.dsn(), {"queue", "q", "--key-rate-limit", "5", "--key-rate-period", "none"})
          .exit_code == 64);
  CHECK(pgtqctl(database.dsn(), {"queue", "q", "--key-rate-limit", "none"})
            .output.find("key rate limit") == std::string::npos);
  const Run bad_key_period = pgtqctl(
      database.dsn(), {"queue", "q", "--key-rate-limit", "5", "--key-rate-period", "1 week"});
  CHECK(bad_key_period.exit_code == 1);
  CHECK_MESSAGE(bad_key_period.output.find("pgtq.set_key_rate_limit: per must be") !=
                    std::string::npos,
                bad_key_period.output);
  CHECK(pgtqctl(database.dsn(), {"queue", "q", "--key-rate-period", "1 minute"}).exit_code == 64);
  CHECK(pgtqctl(database.dsn(), {"queue", "q", "--key-rate-limit", "0"}).exit_code == 64);

  // Weights: several at once, a key holding '=', default for 1 again.
  const Run weights = pgtqctl(
      database.dsn(),
      {"queue", "q", "--key-weight", "tenant-a=3", "--key-weight", "x=y=2", "--key-weight", "b=1"});
  CHECK_MESSAGE(weights.output.find("(key weights: b 1, tenant-a 3, x=y 2);") != std::string::npos,
                weights.output);
  CHECK(pgtqctl(database.dsn(), {"queue", "q", "--key-weight", "tenant-a=none"})
            .output.find("(key weights: b 1, x=y 2);") != std::string::npos);
  for (const std::string entry : {"tenant-a", "=3", "a=0", "a=1001", "a=x", "a="}) {
    CAPTURE(entry);
    const Run refused = pgtqctl(database.dsn(), {"queue", "q", "--key-weight", entry});
    CHECK(refused.exit_code == 64);
    CHECK_MESSAGE(refused.output.find("--key-weight") != std::string::npos, refused.output);
  }
  // A key the database refuses (over 1024 bytes) changes nothing, the weights before it
  // included.
  const Run long_key =
      pgtqctl(database.dsn(),
              {"queue", "q", "--key-weight", "c=5", "--key-weight", std::string(1025, 'k') + "=2"});
  CHECK(long_key.exit_code != 0);
  CHECK_MESSAGE(long_key.output.find("fairness_key") != std::string::npos, long_key.output);
  CHECK(count(conn, "SELECT count(*) FROM pgtq.fairness_weights WHERE fairness_key = 'c'") == 0);
}

TEST_CASE("pgtqctl push --fairness-key stores the key, and list shows it and filters by it") {
  TestDatabase database;
  db::Connection conn = database.connect();
  const Run pushed =
      pgtqctl(database.dsn(), {"push", "q", "t", "[1]", "--fairness-key", "tenant-7"});
  REQUIRE_MESSAGE(pushed.exit_code == 0, pushed.output);
  query(conn, "SELECT pgtq.push('q', 'other', fairness_key => 'tenant-8')");
  CHECK(count(conn, "SELECT count(*) FROM pgtq.tasks WHERE fairness_key = 'tenant-7'") == 1);
  const Run one = pgtqctl(database.dsn(), {"list", "--fairness-key", "tenant-7"});
  CHECK_MESSAGE(one.output.find("fairness_key") != std::string::npos, one.output);
  CHECK(one.output.find("tenant-7") != std::string::npos);
  CHECK(one.output.find("tenant-8") == std::string::npos);
  const Run bad = pgtqctl(database.dsn(), {"push", "q", "t", "[1]", "--fairness-key", ""});
  CHECK(bad.exit_code == 1);
  CHECK_MESSAGE(bad.output.find("fairness_key") != std::string::npos, bad.output);
}

TEST_CASE("pgtqctl workers lists the live workers of a queue, or of all") {
  TestDatabase database;
  db::Connection conn = database.connect();
  query(conn,
        "SELECT pgtq.worker_seen('host-a:7', 'mail', 'host-a', 7, '1.2.3', 8, 'process',"
        " '5 seconds', now())");
  query(conn,
        "SELECT pgtq.worker_seen('host-b:9', 'images', 'host-b', 9, '1.2.3', 2, 'thread',"
        " '5 seconds', now())");
  const Run all = pgtqctl(database.dsn(), {"workers"});
  CHECK_MESSAGE(all.exit_code == 0, all.output);
  CHECK_MESSAGE(all.output.find("host-a:7") != std::string::npos, all.output);
  CHECK_MESSAGE(all.output.find("host-b:9") != std::string::npos, all.output);
  const Run mail = pgtqctl(database.dsn(), {"workers", "--queue", "mail"});
  CHECK_MESSAGE(mail.output.find("host-a:7") != std::string::npos, mail.output);
  CHECK_MESSAGE(mail.output.find("host-b:9") == std::string::npos, mail.output);
}

TEST_CASE("pgtqctl queues shows every queue at a glance") {
  TestDatabase database;
  db::Connection conn = database.connect();
  query(conn, "SELECT pgtq.push('mail', 't')");
  query(conn, "SELECT pgtq.pause('idle')");
  // One task of 'done' ended just now: it was due 1.75 s before, started 1.5 s after that and
  // ran 0.25 s.
  query(conn,
        "INSERT INTO pgtq.finished_tasks (id, queue, task, args, state, priority, run_at,"
        " attempts, max_attempts, created_at, started_at, finished_at, errors)"
        " SELECT 1000, 'done', 't', '[]', 'succeeded', 0, f - interval '1750 ms', 1, 5,"
        " f - interval '1750 ms', f - interval '250 ms', f, '[]' FROM now() AS f");
  const Run queues = pgtqctl(database.dsn(), {"queues"});
  CHECK_MESSAGE(queues.exit_code == 0, queues.output);
  CHECK_MESSAGE(queues.output.find("oldest queued s") != std::string::npos, queues.output);
  CHECK_MESSAGE(queues.output.find("wait p95 1h s") != std::string::npos, queues.output);
  CHECK_MESSAGE(queues.output.find("1.500") != std::string::npos, queues.output);
  CHECK_MESSAGE(queues.output.find("0.250") != std::string::npos, queues.output);
  CHECK_MESSAGE(queues.output.find("mail   1") != std::string::npos, queues.output);
  CHECK_MESSAGE(queues.output.find("paused") != std::string::npos, queues.output);
}

TEST_CASE("pgtqctl delete --all deletes the states it is given, with a dry run first") {
  TestDatabase database;
  db::Connection conn = database.connect();
  for (int i = 0; i < 3; ++i) {
    query(conn, "SELECT pgtq.push('q', 't')");
  }
  query(conn, "SELECT pgtq.push('other', 't')");
  const Run no_state = pgtqctl(database.dsn(), {"delete", "--all", "--queue", "q"});
  CHECK(no_state.exit_code == 64);
  CHECK_MESSAGE(no_state.output.find("--state") != std::string::npos, no_state.output);
  const Run running = pgtqctl(database.dsn(), {"delete", "--all", "--state", "running"});
  CHECK(running.exit_code == 64);
  const Run dry = pgtqctl(database.dsn(),
                          {"delete", "--all", "--state", "queued", "--queue", "q", "--dry-run"});
  CHECK_MESSAGE(dry.output == "would delete 3 tasks\n", dry.output);
  const Run deleted = pgtqctl(
      database.dsn(), {"delete", "--all", "--state", "queued", "--queue", "q", "--limit", "2"});
  CHECK_MESSAGE(deleted.output == "deleted 3 tasks\n", deleted.output);
  CHECK(count(conn, "SELECT count(*) FROM pgtq.tasks") == 1);
}

TEST_CASE("pgtqctl retention sets, shows and removes how long finished tasks are kept") {
  TestDatabase database;
  db::Connection conn = database.connect();
  CHECK(pgtqctl(database.dsn(), {"retention"}).output ==
        "no retention rules: finished tasks are kept until pruned\n");
  const Run set = pgtqctl(database.dsn(), {"retention", "--state", "succeeded", "--keep", "1 day"});
  CHECK_MESSAGE(set.exit_code == 0, set.output);
  CHECK_MESSAGE(set.output.find("(default)  succeeded  1 day") != std::string::npos, set.output);
  CHECK_MESSAGE(set.output.find("\n0 finished task(s) past their rule now") != std::string::npos,
                set.output);
  const Run forever =
      pgtqctl(database.dsn(), {"retention", "--queue", "billing", "--keep", "forever"});
  CHECK_MESSAGE(forever.exit_code == 0, forever.output);
  CHECK(scalar(conn,
               "SELECT string_agg(coalesce(queue, '*') || ':' || state || ':' ||"
               " coalesce(keep::text, 'forever'), ' ' ORDER BY queue NULLS FIRST, state)"
               " FROM pgtq.retention") ==
        "*:succeeded:1 day billing:succeeded:forever billing:failed:forever "
        "billing:cancelled:forever");
  // Another queue's listing shows the default only.
  const Run other = pgtqctl(database.dsn(), {"retention", "--queue", "emails"});
  CHECK(other.output.find("billing") == std::string::npos);
  CHECK(other.output.find("(default)") != std::string::npos);
  CHECK(pgtqctl(database.dsn(),
                {"retention", "--queue", "billing", "--state", "failed", "--keep", "default"})
            .exit_code == 0);
  CHECK(count(conn, "SELECT count(*) FROM pgtq.retention WHERE queue = 'billing'") == 2);
  CHECK(pgtqctl(database.dsn(), {"retention", "--keep", "default"}).exit_code == 0);
  CHECK(count(conn, "SELECT count(*) FROM pgtq.retention WHERE queue IS NULL") == 0);
}
