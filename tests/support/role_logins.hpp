#pragma once

// Login roles for one test database, each granted one of pgtq's roles (sql/schema/22_roles.sql),
// with a connection each; dropped at the end. Roles belong to the server, so their names carry
// the database's.

#include "db/connection.hpp"
#include "support/sql.hpp"
#include "support/test_database.hpp"

#include <memory>
#include <string>
#include <vector>

namespace pgtq::test {

class RoleLogins {
public:
  // One login per entry: the pgtq role it is granted, "" for none.
  RoleLogins(const TestDatabase& database, const std::vector<std::string>& granted)
      : m_owner(database.connect()) {
    for (std::size_t i = 0; i < granted.size(); ++i) {
      const std::string name = database.name() + "_" + std::to_string(i);
      query(m_owner, "CREATE ROLE " + name + " LOGIN");
      m_names.push_back(name);
      if (!granted[i].empty()) {
        query(m_owner, "GRANT " + granted[i] + " TO " + name);
      }
      m_granted.push_back(granted[i].empty() ? "a login without pgtq's roles" : granted[i]);
      m_connections.push_back(
          std::make_unique<db::Connection>(login_dsn(database, i), "pgtq-test"));
    }
  }
  ~RoleLogins() {
    m_connections.clear();
    for (const std::string& name : m_names) {
      try {
        query(m_owner, "DROP ROLE " + name);
      } catch (const std::exception&) {
        // A test failing midway may leave a session behind; the server keeps the role.
      }
    }
  }
  RoleLogins(const RoleLogins&) = delete;
  RoleLogins& operator=(const RoleLogins&) = delete;

  db::Connection& connection(std::size_t index) { return *m_connections.at(index); }
  const std::string& login(std::size_t index) const { return m_names.at(index); }
  const std::string& role_name(std::size_t index) const { return m_granted.at(index); }
  // The database's conninfo with this login as its user (a later keyword wins).
  std::string login_dsn(const TestDatabase& database, std::size_t index) const {
    return database.dsn() + " user=" + m_names.at(index);
  }

private:
  db::Connection m_owner;
  std::vector<std::string> m_names;
  std::vector<std::string> m_granted;
  std::vector<std::unique_ptr<db::Connection>> m_connections;
};

} // namespace pgtq::test
