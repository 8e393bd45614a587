#pragma once

#include "db/notice_throttle.hpp"
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

// What pgtqd asks of every session it opens, whatever the database or role defaults say.
// Sent in the startup packet ("options"), so that it holds from the first statement and
// cannot be lost to a reset; a pooler that refuses startup options (pgbouncer 1.18, for
// one) gets a connection without them (see startup_options_refused()).
struct SessionSettings {
  // READ COMMITTED: the protocol functions are written for it (SKIP LOCKED, fencing); under
  // a SERIALIZABLE default they fail with serialization errors under load.
  bool read_committed = false;
  std::chrono::milliseconds lock_timeout{0};      // 0: the server's default
  std::chrono::milliseconds statement_timeout{0}; // 0: the server's default
  // synchronous_commit = off: commits do not wait for the WAL to reach the disk (or a
  // synchronous standby); a commit can then be lost in a server crash, never half-applied.
  bool asynchronous_commit = false;
};

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
  // application_name is a fallback: an application_name in conninfo wins. Server notices
  // (RAISE WARNING, …) go to the "db" logger at their level instead of raw to stderr.
  explicit Connection(const std::string& conninfo,
                      std::string_view application_name = "pgtq",
                      const SessionSettings& settings = {});

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
  // Reads what arrived on the socket and returns the notifications received so far; with
  // read_socket false, only those libpq already read along with earlier results.
  std::vector<Notification> take_notifications(bool read_socket = true);

  // The server or pooler refused the startup options of SessionSettings, and the
  // connection runs with the database's defaults instead.
  bool startup_options_refused() const { return m_options_refused; }

  bool is_ok() const { return PQstatus(m_conn.get()) == CONNECTION_OK; }
  PGconn* native() const { return m_conn.get(); }

private:
  Result check(PGresult* result, std::string_view what);
  void prepare_once(const Query& query);
  bool dispatch(const Query& query, std::span<const Param> params);

  // On the heap, and declared before m_conn so that it outlives it: libpq's notice receiver
  // holds its address, which moving the Connection must not change.
  std::unique_ptr<NoticeThrottle> m_notices;
  std::unique_ptr<PGconn, decltype(&PQfinish)> m_conn;
  std::vector<const Query*> m_prepared;
  bool m_prepare = true;
  bool m_options_refused = false;
};

// The startup "options" value for settings ("-c key=value …"), empty when there is nothing
// to set; user_options (the conninfo's own options) come first, so that ours win.
std::string startup_options(const SessionSettings& settings, std::string_view user_options = {});

// text cut to at most 63 bytes (PostgreSQL's limit for application_name) without splitting
// a UTF-8 sequence.
std::string bounded_application_name(std::string_view text);

} // namespace pgtq::db
