#pragma once

#include "db/connection.hpp"
#include "db/migrations.hpp"

#include <stdexcept>
#include <vector>

namespace pgtq::db {

// The database's schema is newer than this binary knows, or older than it needs.
class SchemaMismatch : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

struct SchemaStatus {
  int database_version = 0; // 0: never migrated
  int known_version = 0;    // the newest migration built into this binary
};

// Applies the embedded migrations in order, each in its own transaction, while holding a
// session advisory lock so that concurrent migrators queue up instead of colliding.
class Migrator {
public:
  explicit Migrator(const std::vector<Migration>& migrations = embedded_migrations());

  // Returns the migrations applied now (empty when the schema was up to date).
  // Throws SchemaMismatch when the database is newer than this binary.
  std::vector<Migration> migrate(Connection& connection) const;

  SchemaStatus status(Connection& connection) const;
  // Throws SchemaMismatch unless the database is exactly at the known version.
  void require_current(Connection& connection) const;

private:
  std::vector<int> applied_versions(Connection& connection) const;

  const std::vector<Migration>& m_migrations;
};

} // namespace pgtq::db
