#include "db/migrator.hpp"
#include "db/pg_error.hpp"
#include "support/test_database.hpp"

#include <doctest/doctest.h>

#include <future>
#include <vector>

using namespace pgtq;

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
                       doctest::Contains("newer than this pgtq knows"), db::SchemaMismatch);
  CHECK_THROWS_AS(migrator.require_current(connection), db::SchemaMismatch);
}

TEST_CASE("an unmigrated database is reported as such") {
  test::EmptyDatabase database;
  db::Connection connection = database.connect();
  CHECK(db::Migrator().status(connection).database_version == 0);
  CHECK_THROWS_WITH_AS(db::Migrator().require_current(connection),
                       doctest::Contains("pgtqctl migrate"), db::SchemaMismatch);
}
