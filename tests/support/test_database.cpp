#include "support/test_database.hpp"

#include "db/migrator.hpp"

#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <stdexcept>

namespace pgtq::test {
namespace {

std::string unique_database_name() {
  // The time as well as the pid: a database left behind by a crashed run whose pid comes
  // round again must not collide.
  static const auto started = std::chrono::duration_cast<std::chrono::milliseconds>(
                                  std::chrono::system_clock::now().time_since_epoch())
                                  .count();
  static std::atomic<int> counter{0};
  return "pgtq_test_" + std::to_string(::getpid()) + "_" + std::to_string(started) + "_" +
         std::to_string(counter++);
}

// CREATE/DROP DATABASE take no parameters; the names are made here from digits only.
void run_on_server(const std::string& sql) {
  db::Connection server(server_dsn(), "pgtq-test");
  server.run_script(sql);
}

std::string create_database() {
  std::string name = unique_database_name();
  run_on_server("CREATE DATABASE " + name);
  return name;
}

void drop_database(const std::string& name) {
  try {
    run_on_server("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)");
  } catch (const std::exception&) {
    // Leaving a database behind in a throwaway cluster is harmless.
  }
}

} // namespace

const std::string& server_dsn() {
  static const std::string dsn = [] {
    const char* value = std::getenv("PGTQ_TEST_DSN");
    if (value == nullptr || *value == '\0') {
      throw std::runtime_error(
          "PGTQ_TEST_DSN is not set. Integration tests need a PostgreSQL server: run "
          "scripts/test.sh, which starts a private one, or set PGTQ_TEST_DSN to a "
          "keyword=value conninfo of a server where the user may create databases.");
    }
    return std::string(value);
  }();
  return dsn;
}

EmptyDatabase::EmptyDatabase()
    : m_name(create_database()), m_dsn(server_dsn() + " dbname=" + m_name) {}

EmptyDatabase::~EmptyDatabase() {
  drop_database(m_name);
}

TestDatabase::TestDatabase() {
  db::Connection connection = connect();
  db::Migrator().migrate(connection);
}

} // namespace pgtq::test
