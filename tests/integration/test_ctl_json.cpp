// pgtqctl list's filters and the --json of list, stats, queues, workers and schedules, read
// back as JSON.
#include "support/ctl_process.hpp"
#include "support/sql.hpp"
#include "support/test_database.hpp"

#include <doctest/doctest.h>
#include <rapidjson/document.h>

#include <set>
#include <string>

using namespace pgtq;
using namespace pgtq::test;

namespace {

// pgtqctl's standard output as a JSON array (warnings go to standard error, which
// pgtqctl() mixes in: they are lines that start with "warning:").
rapidjson::Document json_array(const Run& run) {
  std::string json;
  std::size_t start = 0;
  while (start < run.output.size()) {
    const std::size_t end = run.output.find('\n', start);
    const std::string line = run.output.substr(start, end - start);
    if (line.rfind("warning:", 0) != 0) {
      json += line;
    }
    start = end == std::string::npos ? run.output.size() : end + 1;
  }
  rapidjson::Document document;
  document.Parse(json.c_str());
  REQUIRE_MESSAGE(!document.HasParseError(), run.output);
  REQUIRE_MESSAGE(document.IsArray(), run.output);
  return document;
}

std::set<std::string> ids(const rapidjson::Document& tasks) {
  std::set<std::string> found;
  for (const rapidjson::Value& task : tasks.GetArray()) {
    found.insert(std::to_string(task["id"].GetInt64()));
  }
  return found;
}

} // namespace

TEST_CASE("pgtqctl list --json prints every field and applies --task, time and state filters") {
  TestDatabase database;
  db::Connection conn = database.connect();
  const std::string old_mail = scalar(conn, "SELECT pgtq.push('mail', 'send', '{\"to\": 1}')");
  query(conn,
        "UPDATE pgtq.live_tasks SET created_at = now() - interval '3 days' WHERE id = $1",
        {old_mail});
  const std::string new_mail = scalar(conn,
                                      "SELECT pgtq.push('mail', 'send', '[2]', tags => '{x}',"
                                      " metadata => '{\"k\": \"v\"}')");
  const std::string other = scalar(conn, "SELECT pgtq.push('mail', 'bounce')");
  const std::string done = scalar(conn, "SELECT pgtq.push('img', 'resize')");
  query(conn,
        "WITH c AS (SELECT * FROM pgtq.claim('img', '{resize}', 1, 'w'))"
        " SELECT pgtq.complete(c.id, c.claim, '[\"ok\"]') FROM c");

  const Run all = pgtqctl(database.dsn(), {"list", "--json"});
  REQUIRE_MESSAGE(all.exit_code == 0, all.output);
  const rapidjson::Document tasks = json_array(all);
  REQUIRE(tasks.Size() == 4);
  // Newest first.
  CHECK(std::to_string(tasks[0]["id"].GetInt64()) == done);
  const rapidjson::Value& finished = tasks[0];
  CHECK(std::string(finished["state"].GetString()) == "succeeded");
  CHECK(std::string(finished["result"][0].GetString()) == "ok");
  CHECK(finished["finished_at"].IsString());
  CHECK(std::string(finished["worker"].GetString()) == "w");
  const rapidjson::Value& tagged = tasks[2];
  CHECK(std::to_string(tagged["id"].GetInt64()) == new_mail);
  CHECK(std::string(tagged["tags"][0].GetString()) == "x");
  CHECK(std::string(tagged["metadata"]["k"].GetString()) == "v");
  CHECK(tagged["args"][0].GetInt() == 2);
  CHECK(tagged["result"].IsNull());
  CHECK(tagged["unique_key"].IsNull());
  CHECK(tagged["attempts"].GetInt() == 0);
  CHECK(tagged["max_attempts"].GetInt() == 5);
  CHECK(tagged["created_at"].IsString());

  CHECK(ids(json_array(pgtqctl(database.dsn(), {"list", "--json", "--task", "send"}))) ==
        std::set<std::string>{old_mail, new_mail});
  CHECK(ids(json_array(
            pgtqctl(database.dsn(), {"list", "--json", "--created-before", "yesterday"}))) ==
        std::set<std::string>{old_mail});
  CHECK(
      ids(json_array(pgtqctl(
          database.dsn(), {"list", "--json", "--task", "send", "--created-after", "yesterday"}))) ==
      std::set<std::string>{new_mail});
  CHECK(ids(json_array(
            pgtqctl(database.dsn(), {"list", "--json", "--finished-after", "yesterday"}))) ==
        std::set<std::string>{done});
  CHECK(ids(json_array(
            pgtqctl(database.dsn(), {"list", "--json", "--queue", "mail", "--state", "queued"}))) ==
        std::set<std::string>{old_mail, new_mail, other});
  CHECK(json_array(pgtqctl(database.dsn(), {"list", "--json", "--task", "nothing"})).Empty());
  CHECK(json_array(pgtqctl(database.dsn(), {"list", "--json", "--limit", "1"})).Size() == 1);

  // The table takes the same filters.
  const Run table = pgtqctl(database.dsn(), {"list", "--task", "bounce"});
  CHECK(table.output.find("bounce") != std::string::npos);
  CHECK(table.output.find("send") == std::string::npos);
  const Run bad = pgtqctl(database.dsn(), {"list", "--finished-before", "whenever"});
  CHECK(bad.exit_code == 64);
  CHECK(bad.output.find("--finished-before") != std::string::npos);
  CHECK(pgtqctl(database.dsn(), {"list", "--task", "a b"}).exit_code == 64);
}

TEST_CASE("pgtqctl stats, queues, workers and schedules --json print JSON arrays") {
  TestDatabase database;
  db::Connection conn = database.connect();
  query(conn, "SELECT pgtq.push('mail', 'send')");
  query(conn, "SELECT pgtq.push('mail', 'send')");
  query(conn, "SELECT pgtq.pause('mail')");
  query(conn, "SELECT pgtq.set_schedule('nightly', 'mail', 'digest', cron => '0 3 * * *')");

  const rapidjson::Document stats = json_array(pgtqctl(database.dsn(), {"stats", "--json"}));
  REQUIRE(stats.Size() == 1);
  CHECK(std::string(stats[0]["queue"].GetString()) == "mail");
  CHECK(std::string(stats[0]["state"].GetString()) == "queued");
  CHECK(stats[0]["tasks"].GetInt() == 2);

  const rapidjson::Document queues = json_array(pgtqctl(database.dsn(), {"queues", "--json"}));
  REQUIRE(queues.Size() == 1);
  CHECK(queues[0]["queued"].GetInt() == 2);
  CHECK(queues[0]["paused"].IsTrue());
  CHECK(queues[0]["oldest_queued_seconds"].IsNumber());
  CHECK(queues[0]["run_p95_last_hour_seconds"].IsNull());

  CHECK(json_array(pgtqctl(database.dsn(), {"workers", "--json"})).Empty());

  const rapidjson::Document schedules =
      json_array(pgtqctl(database.dsn(), {"schedules", "--json"}));
  REQUIRE(schedules.Size() == 1);
  CHECK(std::string(schedules[0]["schedule"].GetString()) == "nightly");
  CHECK(std::string(schedules[0]["task"].GetString()) == "digest");
  CHECK(schedules[0]["last_task_id"].IsNull());
}
