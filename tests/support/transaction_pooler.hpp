#pragma once

#include <string>

namespace pgtq::test {

// pgbouncer in transaction mode in front of the test server, on a Unix socket in a
// directory of its own: each transaction may run on another server connection, so that
// session state (prepared statements, LISTEN) does not carry over from one to the next.
// Runs as the "postgres" user when the test runs as root (pgbouncer refuses root).
class TransactionPooler {
public:
  // server_socket_dir: the directory of the test server's Unix socket, port 5432.
  explicit TransactionPooler(const std::string& server_socket_dir);
  ~TransactionPooler();
  TransactionPooler(const TransactionPooler&) = delete;
  TransactionPooler& operator=(const TransactionPooler&) = delete;

  // conninfo with its host and port replaced by the pooler's.
  std::string route(const std::string& conninfo) const;
  std::string log() const;

private:
  std::string m_dir;
};

} // namespace pgtq::test
