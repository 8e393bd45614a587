// Periodic tasks (sql/schema/18_schedules.sql): fire times of cron expressions across clock
// changes, the schedule functions, catch-up of missed fire times with time controlled through
// the database, and three real pgtqd firing one schedule.
#include "support/ctl_process.hpp"
#include "support/daemon_process.hpp"
#include "support/sql.hpp"
#include "support/test_database.hpp"

#include <pgtq/client.hpp>

#include <doctest/doctest.h>

#include <algorithm>
#include <csignal>
#include <cstring>
#include <memory>
#include <thread>

using namespace pgtq;
using namespace pgtq::test;

namespace {

// Fire times as UTC text, comma-separated.
std::string fire_times(db::Connection& connection,
                       const std::string& cron,
                       const std::string& time_zone,
                       int count,
                       const std::string& after) {
  return scalar(connection,
                "SELECT string_agg(to_char(t AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS'), ','"
                " ORDER BY t) FROM pgtq.cron_fire_times($1, $2, $3::integer, $4::timestamptz) t",
                {cron, time_zone, std::to_string(count), after});
}

} // namespace

TEST_CASE("cron fire times follow each time zone's clock changes, leap days and month ends") {
  TestDatabase database;
  db::Connection connection = database.connect();
  struct Case {
    const char* what;
    const char* cron;
    const char* time_zone;
    const char* after;
    const char* expected; // UTC
  };
  const Case cases[] = {
      {"Berlin 02:30 daily: the skipped 02:30 fires once, at 03:30 CEST",
       "30 2 * * *",
       "Europe/Berlin",
       "2026-03-27 12:00Z",
       "2026-03-28 01:30:00,2026-03-29 01:30:00,2026-03-30 00:30:00,2026-03-31 00:30:00"},
      {"Berlin 02:30 daily: the repeated 02:30 fires once, the first time",
       "30 2 * * *",
       "Europe/Berlin",
       "2026-10-23 12:00Z",
       "2026-10-24 00:30:00,2026-10-25 00:30:00,2026-10-26 01:30:00,2026-10-27 01:30:00"},
      {"Berlin 02:30 after 03:00 CEST on the day clocks skip",
       "30 2 * * *",
       "Europe/Berlin",
       "2026-03-29 01:00Z",
       "2026-03-29 01:30:00"},
      {"Berlin 02:30 after its first pass on the day clocks go back",
       "30 2 * * *",
       "Europe/Berlin",
       "2026-10-25 00:30Z",
       "2026-10-26 01:30:00"},
      {"New York */30 through the skipped hour: every 30 minutes",
       "*/30 * * * *",
       "America/New_York",
       "2026-03-08 05:45Z",
       "2026-03-08 06:00:00,2026-03-08 06:30:00,2026-03-08 07:00:00,2026-03-08 07:30:00"},
      {"New York */30 through the repeated hour: every 30 minutes, both passes",
       "*/30 * * * *",
       "America/New_York",
       "2026-11-01 04:45Z",
       "2026-11-01 05:00:00,2026-11-01 05:30:00,2026-11-01 06:00:00,2026-11-01 06:30:00,"
       "2026-11-01 07:00:00,2026-11-01 07:30:00"},
      {"New York */30 from 01:45 EDT: 01:00 EST comes next",
       "*/30 * * * *",
       "America/New_York",
       "2026-11-01 05:45Z",
       "2026-11-01 06:00:00,2026-11-01 06:30:00,2026-11-01 07:00:00"},
      {"New York */30 from 01:15 EST, in the second pass",
       "*/30 * * * *",
       "America/New_York",
       "2026-11-01 06:15Z",
       "2026-11-01 06:30:00,2026-11-01 07:00:00"},
      {"New York hourly through the repeated hour",
       "0 * * * *",
       "America/New_York",
       "2026-11-01 04:30Z",
       "2026-11-01 05:00:00,2026-11-01 06:00:00,2026-11-01 07:00:00,2026-11-01 08:00:00"},
      {"New York hourly through the skipped hour",
       "0 * * * *",
       "America/New_York",
       "2026-03-08 05:30Z",
       "2026-03-08 06:00:00,2026-03-08 07:00:00,2026-03-08 08:00:00"},
      {"New York 01:30 daily: once on the day 01:30 comes twice",
       "30 1 * * *",
       "America/New_York",
       "2026-10-31 12:00Z",
       "2026-11-01 05:30:00,2026-11-02 06:30:00,2026-11-03 06:30:00"},
      {"New York 02:15 daily: the skipped 02:15 fires at 03:15 EDT",
       "15 2 * * *",
       "America/New_York",
       "2026-03-07 12:00Z",
       "2026-03-08 07:15:00,2026-03-09 06:15:00,2026-03-10 06:15:00"},
      {"Sydney 02:30 daily: the southern spring skips 02:30",
       "30 2 * * *",
       "Australia/Sydney",
       "2026-10-02 12:00Z",
       "2026-10-02 16:30:00,2026-10-03 16:30:00,2026-10-04 15:30:00"},
      {"Lord Howe (clocks go back 30 minutes) 01:45 daily: once",
       "45 1 * * *",
       "Australia/Lord_Howe",
       "2026-04-03 12:00Z",
       "2026-04-03 14:45:00,2026-04-04 14:45:00,2026-04-05 15:15:00"},
      {"Lord Howe */15 through its repeated half hour",
       "*/15 * * * *",
       "Australia/Lord_Howe",
       "2026-04-04 14:20Z",
       "2026-04-04 14:30:00,2026-04-04 14:45:00,2026-04-04 15:00:00,2026-04-04 15:15:00,"
       "2026-04-04 15:30:00"},
      {"Lord Howe (clocks skip 30 minutes): 02:40 comes before 02:20 shifted to 02:50",
       "20,40 2 * * *",
       "Australia/Lord_Howe",
       "2026-10-03 14:00Z",
       "2026-10-03 15:40:00,2026-10-03 15:50:00,2026-10-04 15:20:00,2026-10-04 15:40:00"},
      {"Berlin 02:10 and 02:45 skipped, 03:10 and 03:45 each once",
       "10,45 2,3 * * *",
       "Europe/Berlin",
       "2026-03-29 00:50Z",
       "2026-03-29 01:10:00,2026-03-29 01:45:00,2026-03-30 00:10:00,2026-03-30 00:45:00"},
      {"29 February: only in leap years",
       "0 12 29 2 *",
       "UTC",
       "2026-03-01Z",
       "2028-02-29 12:00:00,2032-02-29 12:00:00"},
      {"29 February: 2100 is no leap year",
       "0 0 29 2 *",
       "UTC",
       "2096-03-01Z",
       "2104-02-29 00:00:00"},
      {"29 February midnight in Tokyo",
       "0 0 29 2 *",
       "Asia/Tokyo",
       "2027-06-01Z",
       "2028-02-28 15:00:00"},
      {"the 31st: only in months that have one",
       "0 0 31 * *",
       "UTC",
       "2026-04-01Z",
       "2026-05-31 00:00:00,2026-07-31 00:00:00,2026-08-31 00:00:00"},
      {"the 30th: February has none",
       "0 0 30 * *",
       "UTC",
       "2026-02-01Z",
       "2026-03-30 00:00:00,2026-04-30 00:00:00"},
      {"the last minute of the year in Los Angeles",
       "59 23 31 12 *",
       "America/Los_Angeles",
       "2026-06-01Z",
       "2027-01-01 07:59:00"},
      {"day of month or day of week when both are restricted",
       "0 0 13 * FRI",
       "UTC",
       "2026-02-01Z",
       "2026-02-06 00:00:00,2026-02-13 00:00:00,2026-02-20 00:00:00,2026-02-27 00:00:00"},
      {"a day field starting with * restricts by AND, whatever its step",
       "0 0 */2 * 1",
       "UTC",
       "2026-01-01Z",
       "2026-01-05 00:00:00,2026-01-19 00:00:00,2026-02-09 00:00:00,2026-02-23 00:00:00"},
      {"7 is Sunday", "0 9 * * 7", "UTC", "2026-02-01Z", "2026-02-01 09:00:00,2026-02-08 09:00:00"},
      {"ranges, steps and names",
       "5-20/5 8 * jan-mar MON-fri",
       "UTC",
       "2026-02-01Z",
       "2026-02-02 08:05:00,2026-02-02 08:10:00,2026-02-02 08:15:00,2026-02-02 08:20:00,"
       "2026-02-03 08:05:00"},
      {"a seconds field",
       "*/20 * * * * *",
       "UTC",
       "2026-02-01Z",
       "2026-02-01 00:00:20,2026-02-01 00:00:40,2026-02-01 00:01:00"},
      {"@weekly: Sundays at midnight",
       "@weekly",
       "UTC",
       "2026-02-01Z",
       "2026-02-08 00:00:00,2026-02-15 00:00:00"},
  };
  CHECK(std::size(cases) >= 20);
  for (const Case& c : cases) {
    CAPTURE(c.what);
    const int count = int(std::count(c.expected, c.expected + std::strlen(c.expected), ',')) + 1;
    CHECK(fire_times(connection, c.cron, c.time_zone, count, c.after) == c.expected);
  }
  // An expression that never matches has no fire times, and no schedule may use it.
  CHECK(fire_times(connection, "0 0 30 2 *", "UTC", 1, "2026-01-01Z").empty());
  // every: multiples of the interval since 1970-01-01 UTC.
  query(connection, "SELECT pgtq.set_schedule('quarter', 'q', 't', every => '15 minutes')");
  CHECK(scalar(connection,
               "SELECT string_agg(to_char(t AT TIME ZONE 'UTC', 'HH24:MI'), ',' ORDER BY t)"
               " FROM pgtq.schedule_fire_times('quarter', 3, '2026-01-01 00:07Z') t") ==
        "00:15,00:30,00:45");
}

TEST_CASE("a schedule set again unchanged keeps its next fire time, and pause, resume and delete") {
  TestDatabase database;
  db::Connection connection = database.connect();
  const std::string first =
      scalar(connection, "SELECT pgtq.set_schedule('s', 'q', 't', every => '1 hour')::text");
  CHECK(scalar(connection, "SELECT $1::timestamptz > now()", {first}) == "t");
  // A fire time due and not yet fired is not lost by a deploy that sets the schedule again.
  query(connection, "UPDATE pgtq.schedules SET next_fire_at = next_fire_at - interval '1 hour'");
  const std::string due = scalar(connection, "SELECT next_fire_at::text FROM pgtq.schedules");
  CHECK(scalar(connection,
               "SELECT pgtq.set_schedule('s', 'q', 't', '[1]', every => '1 hour')::text") == due);
  CHECK(scalar(connection, "SELECT args::text FROM pgtq.schedules") == "[1]");
  // A new timing starts from now.
  CHECK(scalar(connection, "SELECT pgtq.set_schedule('s', 'q', 't', every => '2 hours') > now()") ==
        "t");
  CHECK(scalar(connection, "SELECT pgtq.next_due() = next_fire_at FROM pgtq.schedules") == "t");

  CHECK(scalar(connection, "SELECT pgtq.pause_schedule('s')") == "t");
  CHECK(scalar(connection, "SELECT pgtq.pause_schedule('s')") == "f");
  CHECK(scalar(connection, "SELECT pgtq.next_due() IS NULL") == "t");
  query(connection, "UPDATE pgtq.schedules SET next_fire_at = now() - interval '1 hour'");
  query(connection, "SELECT pgtq.tick()");
  CHECK(count(connection, "SELECT count(*) FROM pgtq.tasks") == 0); // paused: nothing fires
  CHECK(scalar(connection, "SELECT pgtq.resume_schedule('s') > now()") == "t");
  CHECK(scalar(connection, "SELECT pgtq.resume_schedule('s') IS NULL") == "t");
  CHECK(scalar(connection, "SELECT pgtq.resume_schedule('nope') IS NULL") == "t");
  CHECK(count(connection, "SELECT count(*) FROM pgtq.schedule_fire_times('s', 3)") == 3);
  CHECK(count(connection, "SELECT count(*) FROM pgtq.schedule_fire_times('nope', 3)") == 0);
  // Set paused, it stays without a fire time until resumed.
  CHECK(scalar(connection,
               "SELECT pgtq.set_schedule('p', 'q', 't', cron => '@daily', enabled => false)"
               " IS NULL") == "t");
  CHECK(scalar(connection, "SELECT next_fire_at IS NULL FROM pgtq.schedules WHERE name = 'p'") ==
        "t");
  CHECK(scalar(connection, "SELECT pgtq.delete_schedule('s')") == "t");
  CHECK(scalar(connection, "SELECT pgtq.delete_schedule('s')") == "f");
}

TEST_CASE("missed fire times follow the schedule's catch-up policy, and none is pushed twice") {
  TestDatabase database;
  db::Connection connection = database.connect();
  // A cron expression whose newest fire time F was 5 minutes ago and whose next is in 55
  // minutes; next_fire_at rewound 3 hours, as if no scheduler had run since F - 3 h.
  const std::string fire =
      scalar(connection, "SELECT date_trunc('second', now() - interval '5 minutes')::text");
  const std::string cron =
      scalar(connection,
             "SELECT to_char($1::timestamptz AT TIME ZONE 'UTC', 'FMSS FMMI') || ' * * * *'",
             {fire});
  struct Case {
    const char* name;
    const char* catch_up;
    const char* within;
    const char* expected; // fire times pushed, as offsets from F in hours
  };
  const Case cases[] = {
      {"none", "none", "1 day", ""},
      {"latest", "latest", "1 day", "0"},
      {"latest-within-1m", "latest", "1 minute", ""},
      {"all", "all", "1 day", "-3,-2,-1,0"},
      {"all-within-150m", "all", "150 minutes", "-2,-1,0"},
  };
  for (const Case& c : cases) {
    query(connection,
          "SELECT pgtq.set_schedule($1, 'q', 't', cron => $2, catch_up => $3,"
          " catch_up_within => $4::interval)",
          {c.name, cron, c.catch_up, c.within});
  }
  query(connection,
        "UPDATE pgtq.schedules SET next_fire_at = $1::timestamptz - interval '3 hours'",
        {fire});
  query(connection, "SELECT pgtq.tick()");
  const std::string offsets = "SELECT coalesce(string_agg((extract(epoch FROM run_at - "
                              "$2::timestamptz) / 3600)::integer::text,"
                              " ',' ORDER BY run_at), '') FROM pgtq.tasks WHERE unique_key LIKE $1";
  for (const Case& c : cases) {
    CAPTURE(c.name);
    CHECK(scalar(connection, offsets, {"pgtq.schedule:" + std::string(c.name) + "@%", fire}) ==
          c.expected);
    CHECK(scalar(connection,
                 "SELECT next_fire_at = $2::timestamptz + interval '1 hour'"
                 " FROM pgtq.schedules WHERE name = $1",
                 {c.name, fire}) == "t");
  }
  const long long tasks = count(connection, "SELECT count(*) FROM pgtq.tasks");
  query(connection, "SELECT pgtq.tick()");
  CHECK(count(connection, "SELECT count(*) FROM pgtq.tasks") == tasks);
  // Rewound by hand after its tasks ended: each fire time's unique key holds in every state.
  query(connection, "SELECT pgtq.cancel(id) FROM pgtq.tasks");
  REQUIRE(count(connection, "SELECT count(*) FROM pgtq.tasks WHERE state = 'cancelled'") == tasks);
  query(connection,
        "UPDATE pgtq.schedules SET next_fire_at = $1::timestamptz - interval '3 hours'",
        {fire});
  query(connection, "SELECT pgtq.tick()");
  CHECK(count(connection, "SELECT count(*) FROM pgtq.tasks") == tasks);
}

TEST_CASE("catch-up latest finds the newest missed fire time of a dense cron without walking "
          "every fire time before it") {
  TestDatabase database;
  db::Connection connection = database.connect();
  // Every second of the 20 minutes that ended 39 minutes ago, in each hour: the newest fire
  // time F is the last second of that band, up to 1,200 fire times after the start of the
  // hour-long window the catch-up looks in (walking them took 2.7 s of the tick).
  const db::Result band =
      query(connection,
            "SELECT string_agg(m::text, ',' ORDER BY m),"
            " (date_trunc('minute', now() - interval '40 minutes') + interval '59 seconds')::text"
            " FROM (SELECT ((extract(minute FROM now() AT TIME ZONE 'UTC')::integer - 40 - k + 120)"
            " % 60) AS m FROM generate_series(0, 19) k) s");
  const std::string minutes = band.string(0, 0);
  const std::string fire = band.string(0, 1);
  query(connection,
        "SELECT pgtq.set_schedule('dense', 'q', 't', cron => $1, catch_up => 'latest')",
        {"* " + minutes + " * * * *"});
  query(connection, "UPDATE pgtq.schedules SET next_fire_at = now() - interval '2 hours'");
  // How many fire times were computed: the calls of cron_next in this transaction.
  query(connection, "BEGIN");
  query(connection, "SET LOCAL track_functions = 'pl'");
  query(connection, "SELECT pgtq.fire_schedules(10)");
  const long long calls = count(connection,
                                "SELECT coalesce(pg_stat_get_xact_function_calls("
                                "'pgtq.cron_next(bigint[], text, timestamptz)'::regprocedure), 0)");
  query(connection, "COMMIT");
  CHECK(scalar(connection,
               "SELECT run_at = $1::timestamptz FROM pgtq.tasks WHERE unique_key LIKE "
               "'pgtq.schedule:dense@%'",
               {fire}) == "t");
  CHECK(count(connection, "SELECT count(*) FROM pgtq.tasks") == 1);
  MESSAGE(calls << " fire times computed");
  CHECK(calls > 0);
  CHECK(calls < 200);
}

TEST_CASE("a schedule row no function would write does not stop the scheduler's tick") {
  TestDatabase database;
  db::Connection connection = database.connect();
  query(connection,
        "INSERT INTO pgtq.schedules (name, queue, task, cron, next_fire_at)"
        " VALUES ('bad-cron', 'q', 't', 'every day', now() - interval '1 second'),"
        "        ('bad-queue', 'no queue!', 't', '* * * * * *', now() - interval '2 seconds')");
  query(connection, "SELECT pgtq.set_schedule('good', 'q', 't', every => '1 second')");
  query(connection,
        "UPDATE pgtq.schedules SET next_fire_at = now() - interval '1 second'"
        " WHERE name = 'good'");
  // Each row's next fire comes after the tick; "after now()" of a later statement would fail
  // an every-second schedule on a machine slow enough to take a second to get there.
  const std::string before_tick = scalar(connection, "SELECT clock_timestamp()");
  query(connection, "SELECT pgtq.tick()");
  CHECK(count(connection, "SELECT count(*) FROM pgtq.tasks") == 1);
  CHECK(scalar(connection, "SELECT last_error FROM pgtq.schedules WHERE name = 'bad-cron'")
            .find("cron must have 5 fields") != std::string::npos);
  CHECK(scalar(connection, "SELECT last_error FROM pgtq.schedules WHERE name = 'bad-queue'")
            .find("queue name") != std::string::npos);
  CHECK(scalar(connection,
               "SELECT bool_and(next_fire_at > $1::timestamptz) FROM pgtq.schedules",
               {before_tick}) == "t");
}

TEST_CASE("three pgtqd fire an every-second schedule once per fire time, and after all stopped "
          "catch-up all pushes each missed fire time and latest the newest only") {
  TestDatabase database;
  db::Connection connection = database.connect();
  query(connection,
        "SELECT pgtq.set_schedule('each', 'default', 'add_numbers', '[1, 2]',"
        " every => '1 second', catch_up => 'all')");
  query(connection,
        "SELECT pgtq.set_schedule('newest', 'default', 'add_numbers', '[3, 4]',"
        " cron => '* * * * * *', catch_up => 'latest')");
  std::vector<std::unique_ptr<DaemonProcess>> daemons;
  for (int i = 0; i < 3; ++i) {
    daemons.push_back(std::make_unique<DaemonProcess>(DaemonProcess::Options{
        .dsn = database.dsn(), .extra_args = {"--worker-name", "w" + std::to_string(i)}}));
  }
  for (auto& daemon : daemons) {
    REQUIRE_MESSAGE(daemon->wait_for_log("listening as", 10s), daemon->log());
  }
  // From the first fire time pushed after all three listen.
  const std::string listening = scalar(connection, "SELECT now()::text");
  REQUIRE(eventually(
      [&] {
        return count(connection,
                     "SELECT count(*) FROM pgtq.tasks WHERE created_at > $1::timestamptz"
                     " AND unique_key LIKE 'pgtq.schedule:newest@%'",
                     {listening}) > 0;
      },
      10s));
  const std::string started = scalar(connection, "SELECT date_trunc('second', now())::text");
  std::this_thread::sleep_for(11s);
  for (auto& daemon : daemons) {
    daemon->signal(SIGTERM);
    REQUIRE(daemon->wait_exit(10s));
  }
  daemons.clear();
  // Ten whole seconds of the run: ten fire times of each schedule, one task each, pushed
  // within the scheduler's bound after its fire time (slack for a loaded machine).
  const std::string window = "SELECT count(*), count(DISTINCT run_at), count(DISTINCT unique_key),"
                             " max(created_at - run_at) < interval '2.5 seconds' FROM pgtq.tasks"
                             " WHERE unique_key LIKE $1 AND run_at > $2::timestamptz"
                             " AND run_at <= $2::timestamptz + interval '10 seconds'";
  // Exact for catch-up all: a late pass still pushes each fire time. latest skips a fire time
  // when a pass comes a whole second late (a stalled, loaded machine): no duplicates there.
  const db::Result each_run = query(connection, window, {"pgtq.schedule:each@%", started});
  CHECK(each_run.string(0, 0) == "10");
  CHECK(each_run.string(0, 1) == "10");
  CHECK(each_run.string(0, 2) == "10");
  CHECK(each_run.string(0, 3) == "t");
  const db::Result newest = query(connection, window, {"pgtq.schedule:newest@%", started});
  CHECK(newest.string(0, 0) == newest.string(0, 1));
  CHECK(std::stoi(newest.string(0, 0)) >= 8);

  std::this_thread::sleep_for(5s);
  const std::string restarted = scalar(connection, "SELECT now()::text");
  DaemonProcess daemon({.dsn = database.dsn()});
  REQUIRE(eventually(
      [&] {
        return count(connection,
                     "SELECT count(*) FROM pgtq.tasks WHERE run_at > $1::timestamptz",
                     {restarted}) >= 4;
      },
      10s));
  daemon.signal(SIGTERM);
  REQUIRE(daemon.wait_exit(10s));
  // all: every fire time from the first to the last, none missing, none twice.
  const db::Result each = query(connection,
                                "SELECT count(*), count(DISTINCT run_at),"
                                " extract(epoch FROM max(run_at) - min(run_at))::bigint + 1"
                                " FROM pgtq.tasks WHERE unique_key LIKE 'pgtq.schedule:each@%'");
  CHECK(each.string(0, 0) == each.string(0, 2));
  CHECK(each.string(0, 1) == each.string(0, 2));
  // latest: one gap, over the stop; the fire time after it was the newest due when pushed.
  const db::Result gap =
      query(connection,
            "SELECT count(*) FILTER (WHERE step >= interval '5 seconds'),"
            " bool_and(step = interval '1 second' OR (step >= interval '5 seconds'"
            "  AND created_at - run_at < interval '1 second'))"
            " FROM (SELECT run_at, created_at, run_at - lag(run_at) OVER (ORDER BY run_at) AS step"
            "       FROM pgtq.tasks WHERE unique_key LIKE 'pgtq.schedule:newest@%') s"
            " WHERE step IS NOT NULL");
  CHECK(gap.string(0, 0) == "1");
  CHECK(gap.string(0, 1) == "t");
}

TEST_CASE("pgtqctl creates, shows, changes, pauses, resumes and deletes a schedule") {
  TestDatabase database;
  const std::string& dsn = database.dsn();
  const Run created = pgtqctl(dsn,
                              {"schedule",
                               "nightly",
                               "--queue",
                               "reports",
                               "--task",
                               "build_report",
                               "--args",
                               "{\"kind\": \"daily\"}",
                               "--cron",
                               "30 2 * * *",
                               "--time-zone",
                               "Europe/Berlin",
                               "--count",
                               "2"});
  CHECK_MESSAGE(created.exit_code == 0, created.output);
  CHECK_MESSAGE(created.output.find("cron '30 2 * * *' in Europe/Berlin") != std::string::npos,
                created.output);
  CHECK(created.output.find("next fire times:") != std::string::npos);
  // Only what is given changes.
  const Run changed = pgtqctl(dsn, {"schedule", "nightly", "--priority", "5"});
  CHECK_MESSAGE(changed.exit_code == 0, changed.output);
  db::Connection connection = database.connect();
  CHECK(scalar(connection,
               "SELECT priority || ' ' || args::text || ' ' || time_zone FROM pgtq.schedules") ==
        "5 {\"kind\": \"daily\"} Europe/Berlin");
  // "none" clears only a setting that falls back to the queue's: a task may be named none.
  CHECK(pgtqctl(dsn, {"schedule", "nightly", "--task", "none", "--priority", "none"}).exit_code ==
        0);
  CHECK(scalar(connection,
               "SELECT task || ' ' || coalesce(priority::text, 'default')"
               " FROM pgtq.schedules") == "none default");
  const Run every = pgtqctl(dsn, {"schedule", "nightly", "--every", "1 hour"});
  CHECK(every.exit_code == 0);
  CHECK(scalar(connection, "SELECT coalesce(cron, 'none') || ' ' || every FROM pgtq.schedules") ==
        "none 01:00:00");
  const Run listed = pgtqctl(dsn, {"schedules"});
  CHECK(listed.exit_code == 0);
  CHECK(listed.output.find("every 01:00:00") != std::string::npos);
  const Run paused = pgtqctl(dsn, {"schedule", "nightly", "--pause"});
  CHECK(paused.output.find("paused") != std::string::npos);
  CHECK(scalar(connection, "SELECT enabled FROM pgtq.schedules") == "f");
  CHECK(pgtqctl(dsn, {"schedule", "nightly", "--resume"}).exit_code == 0);
  CHECK(scalar(connection, "SELECT enabled FROM pgtq.schedules") == "t");
  // Refused before or by the database, changing nothing.
  const std::string before = scalar(connection, "SELECT s::text FROM pgtq.schedules s");
  const Run bad_cron = pgtqctl(dsn, {"schedule", "nightly", "--cron", "61 * * * *"});
  CHECK(bad_cron.exit_code == 1);
  CHECK_MESSAGE(bad_cron.output.find("minute field") != std::string::npos, bad_cron.output);
  CHECK(bad_cron.output.find("PL/pgSQL") == std::string::npos);
  CHECK(pgtqctl(dsn, {"schedule", "nightly", "--pause", "--resume"}).exit_code == 64);
  CHECK(pgtqctl(dsn, {"schedule", "nightly", "--cron", "@daily", "--every", "1 hour"}).exit_code ==
        64);
  CHECK(pgtqctl(dsn, {"schedule", "new", "--cron", "@daily"}).exit_code == 64);
  CHECK(scalar(connection, "SELECT s::text FROM pgtq.schedules s") == before);
  CHECK(pgtqctl(dsn, {"schedule", "nope"}).exit_code == 1);
  const Run preview =
      pgtqctl(dsn, {"cron", "0 9 * * MON-FRI", "--time-zone", "America/New_York", "--count", "3"});
  CHECK(preview.exit_code == 0);
  CHECK(std::count(preview.output.begin(), preview.output.end(), '\n') == 3);
  const Run deleted = pgtqctl(dsn, {"schedule", "nightly", "--delete"});
  CHECK(deleted.exit_code == 0);
  CHECK(count(connection, "SELECT count(*) FROM pgtq.schedules") == 0);
  CHECK(pgtqctl(dsn, {"schedule", "nightly", "--delete"}).exit_code == 1);
}

TEST_CASE("the client sets, pauses, resumes, previews and deletes a schedule") {
  TestDatabase database;
  db::Connection connection = database.connect();
  PGconn* conn = connection.native();
  pgtq::Schedule nightly;
  nightly.queue = "reports";
  nightly.task = "build_report";
  nightly.args = pgtq::json(R"({"kind": "daily"})");
  nightly.cron = "30 2 * * *";
  nightly.time_zone = "Europe/Berlin";
  nightly.timeout = std::chrono::minutes(10);
  const std::optional<std::string> next = pgtq::set_schedule(conn, "nightly-report", nightly);
  REQUIRE(next);
  CHECK(scalar(connection, "SELECT next_fire_at = $1::timestamptz FROM pgtq.schedules", {*next}) ==
        "t");
  CHECK(scalar(connection, "SELECT timeout::text FROM pgtq.schedules") == "00:10:00");
  CHECK(pgtq::schedule_fire_times(conn, "nightly-report", 3).size() == 3);
  CHECK(pgtq::pause_schedule(conn, "nightly-report"));
  CHECK_FALSE(pgtq::pause_schedule(conn, "nightly-report"));
  CHECK(pgtq::resume_schedule(conn, "nightly-report"));
  CHECK_FALSE(pgtq::resume_schedule(conn, "nightly-report"));
  // Refused with the SQLSTATE and a message naming what is wrong; nothing changes.
  const std::string before = scalar(connection, "SELECT s::text FROM pgtq.schedules s");
  pgtq::Schedule bad = nightly;
  bad.cron = "30 25 * * *";
  try {
    pgtq::set_schedule(conn, "nightly-report", bad);
    FAIL("accepted");
  } catch (const pgtq::Error& error) {
    CHECK(error.sqlstate() == "22023");
    CHECK(std::string(error.what()).find("hour field") != std::string::npos);
  }
  bad = nightly;
  bad.every = std::chrono::minutes(5);
  try {
    pgtq::set_schedule(conn, "nightly-report", bad);
    FAIL("accepted");
  } catch (const pgtq::Error& error) {
    CHECK(error.sqlstate() == "22023");
    CHECK(std::string(error.what()).find("exactly one of cron and every") != std::string::npos);
  }
  bad = nightly;
  bad.catch_up_within = std::chrono::seconds(-1);
  CHECK_THROWS_AS(pgtq::set_schedule(conn, "nightly-report", bad), pgtq::Error);
  CHECK(scalar(connection, "SELECT s::text FROM pgtq.schedules s") == before);
  CHECK(pgtq::delete_schedule(conn, "nightly-report"));
  CHECK_FALSE(pgtq::delete_schedule(conn, "nightly-report"));
}
