#pragma once

#include <string>

namespace pgtq::test {

// A PostgreSQL server of the test's own, in a temporary directory, for tests that stop,
// restart or cut off the server and must not disturb the shared one. Listens on a Unix
// socket only. Runs as the "postgres" user when the test runs as root (the server refuses
// root). Stopped and removed at destruction.
class PrivateServer {
public:
  PrivateServer();
  ~PrivateServer();
  PrivateServer(const PrivateServer&) = delete;
  PrivateServer& operator=(const PrivateServer&) = delete;

  // Conninfo for database "postgres".
  const std::string& dsn() const { return m_dsn; }
  void stop();
  void start();

private:
  void pg_ctl(const std::string& arguments) const;

  std::string m_dir;
  std::string m_dsn;
};

} // namespace pgtq::test
