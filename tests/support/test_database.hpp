#pragma once

#include "db/connection.hpp"

#include <string>

namespace pgtq::test {

// The server the test command started: PGTQ_TEST_DSN (a keyword=value conninfo).
// Throws, failing the test with instructions, when it is not set: integration tests never
// skip silently.
const std::string& server_dsn();

// A new, empty database on the test server (no pgtq schema: for migration tests), dropped
// at the end.
class EmptyDatabase {
public:
  EmptyDatabase();
  ~EmptyDatabase();
  EmptyDatabase(const EmptyDatabase&) = delete;
  EmptyDatabase& operator=(const EmptyDatabase&) = delete;

  const std::string& name() const { return m_name; }
  const std::string& dsn() const { return m_dsn; }
  db::Connection connect() const { return db::Connection(m_dsn, "pgtq-test"); }

private:
  std::string m_name;
  std::string m_dsn;
};

// The same, migrated to the current schema. Tests that start pgtqd or use LISTEN/NOTIFY
// get one each, so they cannot see each other's tasks or notifications.
class TestDatabase : public EmptyDatabase {
public:
  TestDatabase();
};

} // namespace pgtq::test
