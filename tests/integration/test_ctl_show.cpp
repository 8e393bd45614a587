// pgtqctl show: everything about one task, live or finished, as text and as JSON.
#include "support/ctl_process.hpp"
#include "support/sql.hpp"
#include "support/test_database.hpp"

#include <doctest/doctest.h>
#include <rapidjson/document.h>

#include <string>

using namespace pgtq;
using namespace pgtq::test;

namespace {

std::string first_line(const std::string& text) {
  return text.substr(0, text.find('\n'));
}

bool has(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

} // namespace

TEST_CASE("pgtqctl show prints a running task with its worker, lease, keys, tags and parents") {
  TestDatabase database;
  db::Connection conn = database.connect();
  const std::string parent = scalar(conn, "SELECT pgtq.push('q', 'first')");
  query(conn,
        "WITH c AS (SELECT * FROM pgtq.claim('q', '{first}', 1, 'worker-a'))"
        " SELECT pgtq.complete(c.id, c.claim, '{\"rows\": 3}') FROM c");
  const std::string id = scalar(conn,
                                "SELECT pgtq.push('q', 'second', '[7]', priority => 4,"
                                " unique_key => 'u-1', fairness_key => 'tenant-9',"
                                " tags => '{blue,red}', metadata => '{\"customer\": 42}',"
                                " depends_on => ARRAY[$1::bigint])",
                                {parent});
  REQUIRE(scalar(conn, "SELECT state FROM pgtq.tasks WHERE id = $1", {id}) == "queued");
  REQUIRE(count(conn, "SELECT count(*) FROM pgtq.claim('q', '{second}', 1, 'worker-b')") == 1);

  const Run shown = pgtqctl(database.dsn(), {"show", id});
  REQUIRE_MESSAGE(shown.exit_code == 0, shown.output);
  CHECK(has(shown.output, "state              running\n"));
  CHECK(has(shown.output, "task               second\n"));
  CHECK(has(shown.output, "attempts           1 of 5\n"));
  CHECK(has(shown.output, "priority           4\n"));
  CHECK(has(shown.output, "worker             worker-b, lease until 20"));
  CHECK(has(shown.output, "unique key         u-1\n"));
  CHECK(has(shown.output, "fairness key       tenant-9\n"));
  CHECK(has(shown.output, "tags               [\"blue\", \"red\"]\n"));
  CHECK(has(shown.output, "metadata           {\"customer\": 42}\n"));
  CHECK_MESSAGE(has(shown.output, "depends on         " + parent + " (succeeded)\n"), shown.output);
  CHECK(has(shown.output, "on parent failure  cancel\n"));
  CHECK(has(shown.output, "checkpoint         none\n"));
  CHECK(has(shown.output, "args               [7]\n"));
  CHECK(has(shown.output, "errors             none\n"));

  const Run json = pgtqctl(database.dsn(), {"show", id, "--json"});
  REQUIRE_MESSAGE(json.exit_code == 0, json.output);
  rapidjson::Document task;
  task.Parse(json.output.c_str());
  REQUIRE_MESSAGE(!task.HasParseError(), json.output);
  REQUIRE(task.IsObject());
  CHECK(task["id"].GetInt64() == std::stoll(id));
  CHECK(std::string(task["state"].GetString()) == "running");
  CHECK(std::string(task["worker"].GetString()) == "worker-b");
  CHECK(task["lease_until"].IsString());
  CHECK(task["finished_at"].IsNull());
  CHECK(task["args"][0].GetInt() == 7);
  CHECK(task["metadata"]["customer"].GetInt() == 42);
  CHECK(task["tags"].Size() == 2);
  REQUIRE(task["parents"].IsArray());
  CHECK(std::string(task["parents"][0]["state"].GetString()) == "succeeded");
  CHECK(task["parents"][0]["result"]["rows"].GetInt() == 3);
  CHECK(task["has_checkpoint"].IsFalse());
}

TEST_CASE("pgtqctl show prints a finished task with the error of every attempt") {
  TestDatabase database;
  db::Connection conn = database.connect();
  const std::string id = scalar(conn, "SELECT pgtq.push('q', 'flaky', max_attempts => 2)");
  query(conn,
        "WITH c AS (SELECT * FROM pgtq.claim('q', '{flaky}', 1, 'w'))"
        " SELECT pgtq.fail(c.id, c.claim, 'first: connection refused', retry_in => '0 seconds')"
        " FROM c");
  query(conn, "SELECT * FROM pgtq.tick(100)");
  query(conn,
        "WITH c AS (SELECT * FROM pgtq.claim('q', '{flaky}', 1, 'w'))"
        " SELECT pgtq.fail(c.id, c.claim, E'second: timeout\\nafter 30 s') FROM c");
  REQUIRE(scalar(conn, "SELECT state FROM pgtq.tasks WHERE id = $1", {id}) == "failed");

  const Run shown = pgtqctl(database.dsn(), {"show", id});
  REQUIRE_MESSAGE(shown.exit_code == 0, shown.output);
  CHECK(has(shown.output, "state              failed\n"));
  CHECK(has(shown.output, "attempts           2 of 2\n"));
  CHECK(has(shown.output, "last worker        w\n"));
  CHECK_FALSE(has(shown.output, "finished           -\n"));
  CHECK(has(shown.output, "errors             2 (oldest first)\n"));
  CHECK_MESSAGE(has(shown.output, "  attempt 1 at "), shown.output);
  CHECK(has(shown.output, ": first: connection refused\n"));
  // A multi-line error stays under its attempt.
  CHECK(has(shown.output, ": second: timeout\n    after 30 s\n"));

  const Run json = pgtqctl(database.dsn(), {"show", id, "--json"});
  rapidjson::Document task;
  task.Parse(json.output.c_str());
  REQUIRE_MESSAGE(!task.HasParseError(), json.output);
  CHECK(task["finished_at"].IsString());
  REQUIRE(task["errors"].Size() == 2);
  CHECK(task["errors"][1]["attempt"].GetInt() == 2);
  CHECK(std::string(task["last_error"].GetString()) == "second: timeout\nafter 30 s");
}

TEST_CASE("pgtqctl show of an id no task has exits 1 with a message and prints nothing else") {
  TestDatabase database;
  for (const bool json : {false, true}) {
    CAPTURE(json);
    const Run missing = json ? pgtqctl(database.dsn(), {"show", "424242", "--json"})
                             : pgtqctl(database.dsn(), {"show", "424242"});
    CHECK(missing.exit_code == 1);
    CHECK_MESSAGE(first_line(missing.output) ==
                      "pgtqctl: no task has id 424242 (never pushed, deleted, or pruned from the "
                      "history)",
                  missing.output);
    CHECK(missing.output.find('\n') == missing.output.size() - 1);
  }
  const Run bad = pgtqctl(database.dsn(), {"show", "x1"});
  CHECK(bad.exit_code == 64);
  CHECK(has(bad.output, "task id"));
}
