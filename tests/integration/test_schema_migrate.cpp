#include "db/migrator.hpp"
#include "db/pg_error.hpp"
#include "support/sql.hpp"
#include "support/test_database.hpp"

#include <doctest/doctest.h>

#include <future>
#include <string>
#include <vector>

using namespace pgtq;
using pgtq::test::query;
using pgtq::test::scalar;

TEST_CASE("migrate creates the schema once and a second run changes nothing") {
  test::EmptyDatabase database;
  db::Connection connection = database.connect();
  const db::Migrator migrator;

  const auto first = migrator.migrate(connection);
  CHECK(first.size() == db::embedded_migrations().size());
  CHECK(migrator.status(connection).database_version == db::embedded_migrations().back().version);
  CHECK_NOTHROW(migrator.require_current(connection));

  const auto second = migrator.migrate(connection);
  CHECK(second.empty());
  const db::Result recorded = connection.run_script("SELECT count(*) FROM pgtq.schema_migrations");
  CHECK(recorded.int64(0, 0) == static_cast<std::int64_t>(first.size()));
}

TEST_CASE("concurrent migrators apply every migration exactly once") {
  test::EmptyDatabase database;
  std::vector<std::future<std::size_t>> runs;
  for (int i = 0; i < 4; ++i) {
    runs.push_back(std::async(std::launch::async, [&] {
      db::Connection connection = database.connect();
      return db::Migrator().migrate(connection).size();
    }));
  }
  std::size_t applied = 0;
  for (auto& run : runs) {
    applied += run.get();
  }
  CHECK(applied == db::embedded_migrations().size());
  db::Connection connection = database.connect();
  CHECK_NOTHROW(db::Migrator().require_current(connection));
}

TEST_CASE("a database whose schema is newer than the binary is refused with a clear message") {
  test::TestDatabase database;
  db::Connection connection = database.connect();
  connection.run_script("INSERT INTO pgtq.schema_migrations (version, file_name) "
                        "VALUES (9999, '9999_future.sql')");
  const db::Migrator migrator;
  CHECK_THROWS_WITH_AS(migrator.migrate(connection),
                       doctest::Contains("newer than this pgtq knows"),
                       db::SchemaMismatch);
  CHECK_THROWS_AS(migrator.require_current(connection), db::SchemaMismatch);
}

TEST_CASE("an unmigrated database is reported as such") {
  test::EmptyDatabase database;
  db::Connection connection = database.connect();
  CHECK(db::Migrator().status(connection).database_version == 0);
  CHECK_THROWS_WITH_AS(db::Migrator().require_current(connection),
                       doctest::Contains("pgtqctl migrate"),
                       db::SchemaMismatch);
}

namespace {

// Every row of both tables, as text, in id order.
// The columns a table has now, as a select list ("l.id, l.queue, …").
std::string
columns_of(db::Connection& connection, const std::string& table, const std::string& alias) {
  return scalar(connection,
                "SELECT string_agg($2 || '.' || quote_ident(attname), ', ' ORDER BY attnum)"
                " FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 0"
                " AND NOT attisdropped",
                {table, alias});
}

// Every task row, as text, through the given select lists: the columns the tables had before
// a migration, so that a column it adds does not count as a change.
std::string all_tasks(db::Connection& connection,
                      const std::string& live_columns,
                      const std::string& finished_columns) {
  return scalar(connection,
                "SELECT coalesce(string_agg(ROW(" + live_columns +
                    ")::text, E'\\n' ORDER BY l.id), '') FROM pgtq.live_tasks l") +
         "\n--\n" +
         scalar(connection,
                "SELECT coalesce(string_agg(ROW(" + finished_columns +
                    ")::text, E'\\n' ORDER BY f.id), '') FROM pgtq.finished_tasks f");
}

// The migrations up to and including version.
std::vector<db::Migration> migrations_through(int version) {
  std::vector<db::Migration> through;
  for (const db::Migration& migration : db::embedded_migrations()) {
    if (migration.version <= version) {
      through.push_back(migration);
    }
  }
  return through;
}

// Migration `version` upgrades a database at version - 1 that holds tasks in every state:
// queued, scheduled, running, running with a cancellation requested, succeeded, failed.
// No row changes, and the attempts that were running go on under their claims and end
// through the new code.
void check_upgrade_keeps_tasks(int version) {
  test::EmptyDatabase database;
  db::Connection connection = database.connect();
  db::Migrator(migrations_through(version - 1)).migrate(connection);
  REQUIRE(db::Migrator().status(connection).database_version == version - 1);

  query(connection,
        "SELECT pgtq.push('q', 't', jsonb_build_array(i)) FROM generate_series(1, 6) i");
  query(connection, "SELECT pgtq.push('q', 't', delay => interval '1 hour')");
  const db::Result claimed =
      query(connection, "SELECT id, claim FROM pgtq.claim('q', ARRAY['t'], 4, 'w') ORDER BY id");
  REQUIRE(claimed.rows() == 4);
  const auto id = [&](int row) { return claimed.string(row, 0); };
  const auto claim = [&](int row) { return claimed.string(row, 1); };
  query(connection, "SELECT pgtq.complete($1, $2, '\"before\"')", {id(0), claim(0)});
  query(connection, "SELECT pgtq.fail($1, $2, 'broken', permanent => true)", {id(1), claim(1)});
  query(connection, "SELECT pgtq.cancel($1)", {id(2)});
  const std::string live_columns = columns_of(connection, "pgtq.live_tasks", "l");
  const std::string finished_columns = columns_of(connection, "pgtq.finished_tasks", "f");
  const std::string before = all_tasks(connection, live_columns, finished_columns);

  const std::vector<db::Migration> applied =
      db::Migrator(migrations_through(version)).migrate(connection);
  REQUIRE(applied.size() == 1);
  CHECK(applied[0].version == version);
  CHECK(all_tasks(connection, live_columns, finished_columns) == before);

  CHECK(scalar(connection, "SELECT pgtq.complete($1, $2, '\"after\"')", {id(3), claim(3)}) == "t");
  CHECK(scalar(connection,
               "SELECT state || ' ' || result FROM pgtq.tasks WHERE id = $1",
               {id(3)}) == "succeeded \"after\"");
  CHECK(scalar(connection,
               "SELECT pgtq.release(ARRAY[$1::bigint], ARRAY[$2::bigint])",
               {id(2), claim(2)}) == "1");
  CHECK(scalar(connection, "SELECT state FROM pgtq.tasks WHERE id = $1", {id(2)}) == "cancelled");
  CHECK(scalar(connection, "SELECT count(*) FROM pgtq.live_tasks") == "3");
  CHECK(scalar(connection, "SELECT count(*) FROM pgtq.finished_tasks") == "4");
  // A queued task is claimed and recorded through the new code too.
  const db::Result next =
      query(connection, "SELECT id, claim FROM pgtq.claim('q', ARRAY['t'], 1, 'w')");
  REQUIRE(next.rows() == 1);
  CHECK(scalar(connection,
               "SELECT pgtq.complete($1, $2, '1')",
               {next.string(0, 0), next.string(0, 1)}) == "t");
}

} // namespace

TEST_CASE("0010 upgrades a database at 0009 with tasks in every state without changing them") {
  check_upgrade_keeps_tasks(10);
}

TEST_CASE("0011 upgrades a database at 0010 with tasks in every state without changing them") {
  check_upgrade_keeps_tasks(11);
}

TEST_CASE("0012 upgrades a database at 0011 with tasks in every state without changing them") {
  check_upgrade_keeps_tasks(12);
}

TEST_CASE("0029 upgrades a database at 0028 with tasks in every state without changing them") {
  check_upgrade_keeps_tasks(29);
}
