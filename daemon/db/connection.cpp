#include "db/connection.hpp"

#include "db/conninfo.hpp"
#include "db/pg_error.hpp"
#include "db/queries.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

namespace pgtq::db {
namespace {

std::string trimmed(const char* message) {
  std::string text = message == nullptr ? "" : message;
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) {
    text.pop_back();
  }
  return text;
}

std::shared_ptr<spdlog::logger> logger() {
  auto found = spdlog::get("db");
  return found ? found : spdlog::default_logger();
}

// Server notices (and warnings) as log lines of the "db" logger at their own level, instead
// of libpq's default of printing them raw to stderr, without time or level; the same text
// again within a minute is counted, not logged (NoticeThrottle, one per connection).
void log_notice(void* throttle, const PGresult* notice) {
  const char* severity = PQresultErrorField(notice, PG_DIAG_SEVERITY_NONLOCALIZED);
  const char* primary = PQresultErrorField(notice, PG_DIAG_MESSAGE_PRIMARY);
  const char* detail = PQresultErrorField(notice, PG_DIAG_MESSAGE_DETAIL);
  std::string text = primary != nullptr ? primary : trimmed(PQresultErrorMessage(notice));
  if (detail != nullptr) {
    text += std::string(" (") + detail + ")";
  }
  const std::optional<std::string> line =
      static_cast<NoticeThrottle*>(throttle)->admit(text, NoticeThrottle::Clock::now());
  if (!line) {
    return;
  }
  text = *line;
  const std::string level = severity == nullptr ? "NOTICE" : severity;
  if (level == "DEBUG") {
    SPDLOG_LOGGER_DEBUG(logger(), "server: {}", text);
  } else if (level == "WARNING") {
    logger()->warn("server: {}", text);
  } else {
    logger()->info("server: {}", text); // NOTICE, INFO, LOG
  }
}

// The conninfo's own "options", else PGOPTIONS: ours replace both unless merged with them.
std::string options_of(const std::string& conninfo) {
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(conninfo.c_str(), &error);
  PQfreemem(error);
  std::string found;
  for (PQconninfoOption* option = options; option != nullptr && option->keyword != nullptr;
       ++option) {
    if (std::strcmp(option->keyword, "options") == 0 && option->val != nullptr) {
      found = option->val;
    }
  }
  PQconninfoFree(options);
  if (found.empty()) {
    const char* environment = std::getenv("PGOPTIONS");
    found = environment == nullptr ? "" : environment;
  }
  return found;
}

void add_setting(std::string& options, const char* key, const std::string& value) {
  if (!options.empty()) {
    options += ' ';
  }
  options += "-c ";
  options += key;
  options += '=';
  for (const char c : value) {
    if (c == ' ' || c == '\\') {
      options += '\\'; // the server splits options at unescaped spaces
    }
    options += c;
  }
}

} // namespace

std::string startup_options(const SessionSettings& settings, std::string_view user_options) {
  std::string ours;
  if (settings.read_committed) {
    add_setting(ours, "default_transaction_isolation", "read committed");
  }
  if (settings.lock_timeout.count() > 0) {
    add_setting(ours, "lock_timeout", std::to_string(settings.lock_timeout.count()));
  }
  if (settings.statement_timeout.count() > 0) {
    add_setting(ours, "statement_timeout", std::to_string(settings.statement_timeout.count()));
  }
  if (settings.asynchronous_commit) {
    add_setting(ours, "synchronous_commit", "off");
  }
  if (ours.empty()) {
    return {};
  }
  return user_options.empty() ? ours : std::string(user_options) + " " + ours;
}

std::string bounded_application_name(std::string_view text) {
  constexpr std::size_t k_max = 63; // NAMEDATALEN - 1
  if (text.size() <= k_max) {
    return std::string(text);
  }
  std::size_t end = k_max;
  // Back off continuation bytes (10xxxxxx) so that the cut falls before a sequence start.
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) {
    --end;
  }
  return std::string(text.substr(0, end));
}

Connection::Connection(const std::string& conninfo,
                       std::string_view application_name,
                       const SessionSettings& settings)
    : m_notices(std::make_unique<NoticeThrottle>()), m_conn(nullptr, &PQfinish) {
  if (!is_parsable_conninfo(conninfo)) {
    // Not a connection failure (retrying cannot help), and libpq's own message would quote
    // pieces of the string, which may hold a password.
    throw PgError("22023",
                  "the connection string is neither key=value pairs nor a "
                  "postgresql:// URI that libpq can parse");
  }
  const std::string app = bounded_application_name(application_name);
  const std::string options = startup_options(settings, options_of(conninfo));
  const auto open = [&](bool with_options) {
    // Keepalives notice a peer that vanished (a cut network) within ~25 s instead of the
    // kernel's two hours, and connect_timeout bounds a connection attempt into the void.
    // They come before dbname so that the caller's conninfo overrides them; options comes
    // after it, and already holds the conninfo's own options.
    const char* keys[] = {"keepalives_idle",
                          "keepalives_interval",
                          "keepalives_count",
                          "connect_timeout",
                          "dbname",
                          "fallback_application_name",
                          with_options ? "options" : nullptr,
                          nullptr};
    const char* values[] = {"10",
                            "5",
                            "3",
                            "10",
                            conninfo.c_str(),
                            app.c_str(),
                            with_options ? options.c_str() : nullptr,
                            nullptr};
    m_conn.reset(PQconnectdbParams(keys, values, 1));
    if (m_conn == nullptr) {
      throw PgError("", "out of memory allocating a PostgreSQL connection");
    }
    PQsetNoticeReceiver(m_conn.get(), &log_notice, m_notices.get());
  };
  open(!options.empty());
  if (!options.empty() && PQstatus(m_conn.get()) != CONNECTION_OK &&
      std::strstr(PQerrorMessage(m_conn.get()), "unsupported startup parameter") != nullptr) {
    // A pooler that refuses startup options (pgbouncer 1.18, for one): connect without them.
    open(false);
    m_options_refused = true;
  }
  if (PQstatus(m_conn.get()) != CONNECTION_OK) {
    throw PgError("", "cannot connect to PostgreSQL: " + trimmed(PQerrorMessage(m_conn.get())));
  }
}

Result Connection::check(PGresult* raw, std::string_view what) {
  Result result(raw);
  const ExecStatusType status = raw == nullptr ? PGRES_FATAL_ERROR : PQresultStatus(raw);
  if (status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK) {
    return result;
  }
  const char* state = raw == nullptr ? nullptr : PQresultErrorField(raw, PG_DIAG_SQLSTATE);
  std::string message =
      trimmed(raw == nullptr ? PQerrorMessage(m_conn.get()) : PQresultErrorMessage(raw));
  if (message.empty()) {
    message = trimmed(PQerrorMessage(m_conn.get()));
  }
  // A statement that failed because the connection broke carries no SQLSTATE; make sure
  // the caller sees it as a connection error even if libpq did not notice yet.
  std::string sqlstate = state == nullptr ? "" : state;
  if (sqlstate.empty() && PQstatus(m_conn.get()) != CONNECTION_OK) {
    sqlstate = "08006";
  }
  throw PgError(sqlstate, std::string(what) + ": " + message);
}

void Connection::prepare_once(const Query& query) {
  if (m_prepare && std::find(m_prepared.begin(), m_prepared.end(), &query) == m_prepared.end()) {
    check(PQprepare(m_conn.get(), query.name, query.sql, 0, nullptr), query.name);
    m_prepared.push_back(&query);
  }
}

bool Connection::dispatch(const Query& query, std::span<const Param> params) {
  std::vector<const char*> values;
  std::vector<int> lengths;
  std::vector<std::string> copies; // libpq wants NUL-terminated text parameters
  copies.reserve(params.size());
  for (const Param& param : params) {
    if (param) {
      copies.emplace_back(*param);
      values.push_back(copies.back().c_str());
      lengths.push_back(static_cast<int>(copies.back().size()));
    } else {
      values.push_back(nullptr);
      lengths.push_back(0);
    }
  }
  // libpq copies the parameters into its send buffer, so they need not outlive the call.
  if (!m_prepare) {
    return PQsendQueryParams(m_conn.get(),
                             query.sql,
                             static_cast<int>(params.size()),
                             nullptr,
                             values.data(),
                             lengths.data(),
                             nullptr,
                             0) == 1;
  }
  return PQsendQueryPrepared(m_conn.get(),
                             query.name,
                             static_cast<int>(params.size()),
                             values.data(),
                             lengths.data(),
                             nullptr,
                             0) == 1;
}

Result Connection::run(const Query& query, std::span<const Param> params) {
  send(query, params);
  return receive(query);
}

void Connection::send(const Query& query, std::span<const Param> params) {
  prepare_once(query);
  if (!dispatch(query, params)) {
    throw PgError("", std::string(query.name) + ": " + trimmed(PQerrorMessage(m_conn.get())));
  }
}

Result Connection::receive(const Query& query) {
  PGresult* first = PQgetResult(m_conn.get());
  // One statement, one result; read on to the end so the connection is ready for the next.
  while (PGresult* extra = PQgetResult(m_conn.get())) {
    PQclear(extra);
  }
  return check(first, query.name);
}

Result Connection::run_script(const std::string& sql) {
  return check(PQexec(m_conn.get(), sql.c_str()), "script");
}

void Connection::listen(std::string_view channel) {
  // LISTEN takes no parameters; the channel is quoted as an identifier instead.
  char* quoted = PQescapeIdentifier(m_conn.get(), channel.data(), channel.size());
  if (quoted == nullptr) {
    throw PgError("", "cannot quote channel name: " + trimmed(PQerrorMessage(m_conn.get())));
  }
  const std::string sql = std::string("LISTEN ") + quoted;
  PQfreemem(quoted);
  check(PQexec(m_conn.get(), sql.c_str()), "LISTEN");
}

std::vector<Notification> Connection::take_notifications(bool read_socket) {
  if (read_socket && PQconsumeInput(m_conn.get()) == 0) {
    throw PgError("08006", "connection lost: " + trimmed(PQerrorMessage(m_conn.get())));
  }
  std::vector<Notification> received;
  while (PGnotify* notify = PQnotifies(m_conn.get())) {
    received.push_back({notify->relname, notify->extra});
    PQfreemem(notify);
  }
  return received;
}

} // namespace pgtq::db
