#pragma once

#include "db/result.hpp"

#include <libpq-fe.h>

#include <chrono>
#include <initializer_list>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace pgtq::db {

struct Query;

// A parameter: text, or SQL NULL.
using Param = std::optional<std::string_view>;

struct Notification {
  std::string channel;
  std::string payload;
};

// One libpq connection. Move-only; every failure throws PgError.
// Statements go through prepared statements named after their Query (queries.hpp), prepared
// the first time they run on this connection.
class Connection {
public:
  // conninfo: a libpq keyword/value string or a postgresql:// URI; empty: PG* variables.
  explicit Connection(const std::string& conninfo, std::string_view application_name = "pgtq");

  // Off: every statement is sent with its text (parsed and planned each time), as a pooler
  // in transaction mode needs when it cannot carry prepared statements between servers.
  void use_prepared_statements(bool on) { m_prepare = on; }

  Result run(const Query& query, std::span<const Param> params);
  Result run(const Query& query, std::initializer_list<Param> params) {
    return run(query, std::span<const Param>(params.begin(), params.size()));
  }
  // run() in two halves, so that a statement can work on the server while this thread does
  // something else (another connection's statement): send() returns once it is sent,
  // receive() waits for its result. Nothing else may run on the connection in between.
  void send(const Query& query, std::span<const Param> params);
  void send(const Query& query, std::initializer_list<Param> params) {
    send(query, std::span<const Param>(params.begin(), params.size()));
  }
  Result receive(const Query& query);
  // Runs SQL text that has no parameters (a migration script, BEGIN, COMMIT).
  Result run_script(const std::string& sql);

  void listen(std::string_view channel);
  // The socket to wait on for notifications (poll for POLLIN).
  int socket() const { return PQsocket(m_conn.get()); }
  // Reads what arrived on the socket and returns the notifications received so far.
  std::vector<Notification> take_notifications();

  bool is_ok() const { return PQstatus(m_conn.get()) == CONNECTION_OK; }
  int server_pid() const { return PQbackendPID(m_conn.get()); }
  PGconn* native() const { return m_conn.get(); }

private:
  Result check(PGresult* result, std::string_view what);
  void prepare_once(const Query& query);
  bool dispatch(const Query& query, std::span<const Param> params);

  std::unique_ptr<PGconn, decltype(&PQfinish)> m_conn;
  std::vector<const Query*> m_prepared;
  bool m_prepare = true;
};

// Whether libpq can parse conninfo (keyword=value pairs or a postgresql:// URI). Checked
// before connecting because libpq's parse errors quote the text, password included.
bool is_parsable_conninfo(const std::string& conninfo);

// The conninfo string with any password replaced by "********", for log lines.
std::string redact_conninfo(const std::string& conninfo);

} // namespace pgtq::db
