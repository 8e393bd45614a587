#include "db/migrator.hpp"

#include "db/pg_error.hpp"
#include "db/queries.hpp"

#include <algorithm>
#include <string>

namespace pgtq::db {
namespace {

// Releases the migration lock on every way out, unless the connection itself is gone
// (then the server released it already).
class MigrationLock {
public:
  explicit MigrationLock(Connection& connection) : m_connection(connection) {
    m_connection.run(queries::k_migration_lock, {});
  }
  ~MigrationLock() {
    try {
      if (m_connection.is_ok()) {
        m_connection.run(queries::k_migration_unlock, {});
      }
    } catch (const PgError&) {
      // The session ends soon anyway, and with it the lock.
    }
  }
  MigrationLock(const MigrationLock&) = delete;
  MigrationLock& operator=(const MigrationLock&) = delete;

private:
  Connection& m_connection;
};

std::string newer_schema_message(int database_version, int known_version) {
  return "the database's pgtq schema is version " + std::to_string(database_version) +
         ", newer than this pgtq knows (" + std::to_string(known_version) +
         "); upgrade pgtq before running it against this database";
}

} // namespace

Migrator::Migrator(const std::vector<Migration>& migrations) : m_migrations(migrations) {}

std::vector<int> Migrator::applied_versions(Connection& connection) const {
  const Result exists = connection.run(queries::k_migrations_table_exists, {});
  if (exists.text(0, 0) != "t") {
    return {};
  }
  const Result rows = connection.run(queries::k_applied_versions, {});
  std::vector<int> versions;
  for (int row = 0; row < rows.rows(); ++row) {
    versions.push_back(static_cast<int>(rows.int64(row, 0)));
  }
  return versions;
}

SchemaStatus Migrator::status(Connection& connection) const {
  const std::vector<int> applied = applied_versions(connection);
  SchemaStatus status;
  status.database_version = applied.empty() ? 0 : applied.back();
  status.known_version = m_migrations.empty() ? 0 : m_migrations.back().version;
  return status;
}

void Migrator::require_current(Connection& connection) const {
  const SchemaStatus current = status(connection);
  if (current.database_version > current.known_version) {
    throw SchemaMismatch(newer_schema_message(current.database_version, current.known_version));
  }
  if (current.database_version < current.known_version) {
    throw SchemaMismatch("the database's pgtq schema is at version " +
                         std::to_string(current.database_version) + ", this pgtq needs " +
                         std::to_string(current.known_version) +
                         "; run `pgtqctl migrate` (or start pgtqd with --migrate)");
  }
}

std::vector<Migration> Migrator::migrate(Connection& connection) const {
  const MigrationLock lock(connection);
  connection.run(queries::k_create_schema, {});
  connection.run(queries::k_create_migrations_table, {});

  const std::vector<int> applied = applied_versions(connection);
  const int known = m_migrations.empty() ? 0 : m_migrations.back().version;
  if (!applied.empty() && applied.back() > known) {
    throw SchemaMismatch(newer_schema_message(applied.back(), known));
  }

  std::vector<Migration> done;
  for (const Migration& migration : m_migrations) {
    if (std::find(applied.begin(), applied.end(), migration.version) != applied.end()) {
      continue;
    }
    connection.run(queries::k_begin, {});
    try {
      connection.run_script(std::string(migration.sql));
      const std::string version = std::to_string(migration.version);
      connection.run(queries::k_record_migration, {version, migration.file_name});
      connection.run(queries::k_commit, {});
    } catch (const PgError& error) {
      if (connection.is_ok()) {
        connection.run(queries::k_rollback, {});
      }
      throw PgError(error.sqlstate(),
                    "migration " + std::string(migration.file_name) + " failed: " + error.what());
    }
    done.push_back(migration);
  }
  return done;
}

} // namespace pgtq::db
