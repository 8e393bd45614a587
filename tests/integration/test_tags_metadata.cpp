// Tags and metadata: given at push in every form (SQL, push_many's two forms, the client,
// PreparedPusher, pgtqctl), stored distinct and sorted, kept when the task ends and when it
// is retried, and found again by SQL and pgtqctl list.
#include "pgtq/client.hpp"
#include "support/ctl_process.hpp"
#include "support/sql.hpp"
#include "support/test_database.hpp"

#include <doctest/doctest.h>

using namespace pgtq;
using namespace pgtq::test;

namespace {

std::string tags_of(db::Connection& connection, std::int64_t id) {
  return scalar(connection,
                "SELECT coalesce(tags::text, 'NULL') FROM pgtq.tasks WHERE id = $1",
                {std::to_string(id)});
}

std::string metadata_of(db::Connection& connection, std::int64_t id) {
  return scalar(connection,
                "SELECT coalesce(metadata::text, 'NULL') FROM pgtq.tasks WHERE id = $1",
                {std::to_string(id)});
}

} // namespace

TEST_CASE("tags and metadata given at push in every form are stored, distinct and sorted") {
  TestDatabase database;
  db::Connection connection = database.connect();
  PGconn* pg = connection.native();

  const std::int64_t sql = std::stoll(
      scalar(connection,
             "SELECT pgtq.push('q', 't', tags => ARRAY['import', 'customer:42', 'import'],"
             " metadata => '{\"customer\": 42, \"source\": \"csv\"}')"));
  CHECK(tags_of(connection, sql) == "{customer:42,import}");
  CHECK(metadata_of(connection, sql) == R"({"source": "csv", "customer": 42})");
  const std::int64_t none =
      std::stoll(scalar(connection, "SELECT pgtq.push('q', 't', tags => '{}')"));
  CHECK(tags_of(connection, none) == "NULL");
  CHECK(metadata_of(connection, none) == "NULL");

  const std::vector<std::int64_t> json_form = [&] {
    std::vector<std::int64_t> ids;
    const db::Result rows =
        query(connection,
              R"(SELECT id FROM pgtq.push_many('q', '[{"task": "t", "tags": ["b", "a"],)"
              R"( "metadata": {"n": 1}}, {"task": "t", "tags": null, "metadata": null}]') AS id)");
    for (int row = 0; row < rows.rows(); ++row) {
      ids.push_back(std::stoll(rows.string(row, 0)));
    }
    return ids;
  }();
  REQUIRE(json_form.size() == 2);
  CHECK(tags_of(connection, json_form[0]) == "{a,b}");
  CHECK(metadata_of(connection, json_form[0]) == R"({"n": 1})");
  CHECK(tags_of(connection, json_form[1]) == "NULL");
  CHECK(metadata_of(connection, json_form[1]) == "NULL");

  // The client: push, push_many (the array form) and PreparedPusher.
  const std::int64_t client =
      push(pg,
           "q",
           "t",
           args(1),
           {.tags = {"a \"quoted\" tag", "b,c"}, .metadata = json(R"({"by": "client"})")});
  CHECK(tags_of(connection, client) == R"({"a \"quoted\" tag","b,c"})");
  CHECK(metadata_of(connection, client) == R"({"by": "client"})");
  const std::vector<std::int64_t> many =
      push_many(pg,
                "q",
                {{"t", args(1), {.tags = {"x"}}},
                 {"t", args(2)},
                 {"t", args(3), {.tags = {"y", "x"}, .metadata = json(R"({"k": [1, 2]})")}}});
  REQUIRE(many.size() == 3);
  CHECK(tags_of(connection, many[0]) == "{x}");
  CHECK(tags_of(connection, many[1]) == "NULL");
  CHECK(tags_of(connection, many[2]) == "{x,y}");
  CHECK(metadata_of(connection, many[2]) == R"({"k": [1, 2]})");
  // The same with unique keys, which push one task at a time.
  const std::vector<std::int64_t> keyed =
      push_many(pg, "q", {{"t", args(4), {.unique = Unique{.key = "k1"}, .tags = {"keyed"}}}});
  REQUIRE(keyed.size() == 1);
  CHECK(tags_of(connection, keyed[0]) == "{keyed}");
  PreparedPusher pusher(pg);
  const std::int64_t prepared =
      pusher.push("q", "t", args(5), {.tags = {"p"}, .metadata = json(R"({"p": true})")});
  CHECK(tags_of(connection, prepared) == "{p}");
  CHECK(metadata_of(connection, prepared) == R"({"p": true})");
  CHECK(tags_of(connection, pusher.push("q", "t", args(6), {})) == "NULL");
}

TEST_CASE("tags and metadata stay with a task that ends, is retried, or is replaced by a "
          "unique push, and SQL finds tasks by them") {
  TestDatabase database;
  db::Connection connection = database.connect();
  PGconn* pg = connection.native();
  const std::int64_t id = push(
      pg, "q", "t", args(1), {.max_attempts = 1, .tags = {"a"}, .metadata = json(R"({"m": 1})")});
  const std::vector<ClaimedTask> claimed = pop(pg, "q", {"t"}, 1, "w");
  REQUIRE(claimed.size() == 1);
  REQUIRE(fail(pg, claimed[0], "boom"));
  CHECK(scalar(connection, "SELECT state FROM pgtq.tasks WHERE id = $1", {std::to_string(id)}) ==
        "failed");
  CHECK(tags_of(connection, id) == "{a}");
  CHECK(metadata_of(connection, id) == R"({"m": 1})");
  REQUIRE(retry(pg, id));
  CHECK(scalar(connection, "SELECT state FROM pgtq.tasks WHERE id = $1", {std::to_string(id)}) ==
        "queued");
  CHECK(tags_of(connection, id) == "{a}");
  CHECK(metadata_of(connection, id) == R"({"m": 1})");

  // A replacing push rewrites them with the rest of the waiting holder.
  const std::int64_t holder =
      push(pg, "q", "u", args(1), {.unique = Unique{.key = "k"}, .tags = {"old"}});
  const std::int64_t replaced =
      push(pg,
           "q",
           "u",
           args(2),
           {.unique = Unique{.key = "k", .on_conflict = OnConflict::replace},
            .tags = {"new"},
            .metadata = json(R"({"v": 2})")});
  CHECK(replaced == holder);
  CHECK(tags_of(connection, holder) == "{new}");
  CHECK(metadata_of(connection, holder) == R"({"v": 2})");

  // Finding them: live and finished alike, by tag and by metadata containment.
  const std::int64_t done = push(pg, "q", "v", args(1), {.tags = {"a", "b"}});
  const std::vector<ClaimedTask> more = pop(pg, "q", {"v"}, 1, "w");
  REQUIRE(more.size() == 1);
  REQUIRE(complete(pg, more[0]));
  CHECK(
      scalar(connection,
             "SELECT string_agg(id::text, ',' ORDER BY id) FROM pgtq.tasks WHERE tags @> '{a}'") ==
      std::to_string(id) + "," + std::to_string(done));
  CHECK(scalar(connection,
               "SELECT string_agg(id::text, ',' ORDER BY id) FROM pgtq.tasks"
               " WHERE tags @> '{a,b}'") == std::to_string(done));
  CHECK(scalar(connection,
               "SELECT string_agg(id::text, ',' ORDER BY id) FROM pgtq.tasks"
               " WHERE metadata @> '{\"v\": 2}'") == std::to_string(holder));
}

TEST_CASE("pgtqctl push takes tags and metadata, and list filters by them") {
  TestDatabase database;
  const Run pushed = pgtqctl(database.dsn(),
                             {"push",
                              "q",
                              "t",
                              "[1]",
                              "--tag",
                              "import",
                              "--tag",
                              "customer:7",
                              "--metadata",
                              R"({"file": "a.csv"})"});
  REQUIRE(pushed.exit_code == 0);
  const std::string id = pushed.output.substr(0, pushed.output.find('\n'));
  REQUIRE(pgtqctl(database.dsn(), {"push", "q", "t", "[2]", "--tag", "other"}).exit_code == 0);

  const Run tagged = pgtqctl(database.dsn(), {"list", "--tag", "import"});
  CHECK(tagged.exit_code == 0);
  CHECK(tagged.output.find("customer:7,import") != std::string::npos);
  CHECK(tagged.output.find("[2]") == std::string::npos);
  const Run both = pgtqctl(database.dsn(), {"list", "--tag", "import", "--tag", "other"});
  CHECK(both.output.find("[1]") == std::string::npos);
  CHECK(both.output.find("[2]") == std::string::npos);
  const Run by_metadata = pgtqctl(database.dsn(), {"list", "--metadata", R"({"file": "a.csv"})"});
  CHECK(by_metadata.output.find("[1]") != std::string::npos);
  CHECK(by_metadata.output.find("[2]") == std::string::npos);

  const Run bad = pgtqctl(database.dsn(), {"push", "q", "t", "--metadata", "[1]"});
  CHECK(bad.exit_code == 1);
  CHECK(bad.output.find("metadata must be a JSON object") != std::string::npos);
}
