// Task `ledger` writes one row per completed run into a table the integration tests read,
// so they can count how often each task really ran (exactly-once checks). The tests create
//   CREATE TABLE ledger (task_id bigint NOT NULL, attempt int NOT NULL,
//                        worker_pid int NOT NULL, at timestamptz NOT NULL DEFAULT now());
// in the database named by env PGTQ_LEDGER_DSN. Args: any; {"sleep_ms": n} first sleeps n
// ms (at most 60000) so that runs overlap.
//
// Test instrumentation, so it talks to PostgreSQL directly: its SQL is the tests' own table,
// not pgtq's schema, and does not belong in daemon/db/queries.cpp.
#include <pgtq/plugin.hpp>

#include <libpq-fe.h>

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>

namespace {

using PgConnPtr = std::unique_ptr<PGconn, decltype(&PQfinish)>;
using PgResultPtr = std::unique_ptr<PGresult, decltype(&PQclear)>;

constexpr const char* k_insert =
    "INSERT INTO ledger (task_id, attempt, worker_pid) VALUES ($1, $2, $3)";

// One connection per worker thread, reopened after a failure.
PGconn* connection() {
  thread_local PgConnPtr conn{nullptr, &PQfinish};
  if (conn && PQstatus(conn.get()) == CONNECTION_OK) {
    return conn.get();
  }
  const char* dsn = std::getenv("PGTQ_LEDGER_DSN");
  if (dsn == nullptr) {
    throw pgtq::PermanentError("ledger: PGTQ_LEDGER_DSN is not set");
  }
  conn.reset(PQconnectdb(dsn));
  if (PQstatus(conn.get()) != CONNECTION_OK) {
    const std::string message = PQerrorMessage(conn.get());
    conn.reset();
    throw pgtq::Retry("ledger: cannot connect: " + message);
  }
  return conn.get();
}

void ledger(pgtq::Context& ctx, const pgtq::Args& args) {
  const rapidjson::Value& json = args.json();
  if (json.IsObject()) {
    const auto sleep_ms = json.FindMember("sleep_ms");
    if (sleep_ms != json.MemberEnd() && sleep_ms->value.IsInt()) {
      const int ms = sleep_ms->value.GetInt();
      std::this_thread::sleep_for(std::chrono::milliseconds(ms < 0 ? 0 : ms > 60000 ? 60000 : ms));
    }
  }

  const std::string id = std::to_string(ctx.id());
  const std::string attempt = std::to_string(ctx.attempt());
  const std::string pid = std::to_string(getpid());
  const char* values[] = {id.c_str(), attempt.c_str(), pid.c_str()};
  PGconn* conn = connection();
  const PgResultPtr result(PQexecParams(conn, k_insert, 3, nullptr, values, nullptr, nullptr, 0),
                           &PQclear);
  if (PQresultStatus(result.get()) != PGRES_COMMAND_OK) {
    throw pgtq::Retry(std::string("ledger: insert failed: ") + PQerrorMessage(conn));
  }
}

} // namespace

PGTQ_PLUGIN("ledger", "0", [](pgtq::Registry& r) { PGTQ_HANDLER(r, ledger); });
