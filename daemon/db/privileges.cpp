#include "db/privileges.hpp"

#include "db/pg_error.hpp"
#include "db/queries.hpp"

namespace pgtq::db {
namespace {

// What pgtqd reads straight from the tables and views (the metrics' figures, the registry).
constexpr const char* k_tables_read = "{schema_migrations,live_tasks,queues,live_workers}";
// Every function pgtqd calls (daemon/db/queries.cpp, the statements of the daemon's side).
constexpr const char* k_functions_called =
    "{claim,finish_many,report,heartbeat,release,tick,apply_retention,worker_idle,worker_busy,"
    "pushes_in_flight,scheduler_waiting,delayed_pushes_in_flight,next_due,next_rate_room,"
    "worker_seen,worker_stopped,sweep_gone_workers,register_schedule}";

std::string grant_hint(const std::string& role) {
  return "pgtqd's role needs pgtq_worker's rights: GRANT pgtq_worker TO " + role +
         " (README, \"Database roles\")";
}

} // namespace

void require_worker_privileges(Connection& connection) {
  const Result usage = connection.run(queries::k_schema_usage, {});
  const std::string role = usage.string(0, 1);
  if (usage.text(0, 0) != "t") {
    throw PrivilegeMissing("role " + role + " may not use the schema pgtq (USAGE); " +
                           grant_hint(role));
  }
  const Result missing =
      connection.run(queries::k_missing_worker_privileges, {k_tables_read, k_functions_called});
  if (missing.rows() == 0) {
    return;
  }
  std::string rights;
  for (int row = 0; row < missing.rows(); ++row) {
    rights += (row == 0 ? "" : ", ") + missing.string(row, 0);
  }
  throw PrivilegeMissing("role " + role + " lacks " + rights + "; " + grant_hint(role));
}

void require_claim_rights(Connection& connection,
                          const std::vector<std::string>& queues,
                          const std::string& worker) {
  for (const std::string& queue : queues) {
    try {
      connection.run(queries::k_claim, {queue, "{}", "0", worker, "15 seconds"});
    } catch (const PgError& error) {
      if (error.sqlstate() != "42501") {
        throw;
      }
      const std::string role = connection.run(queries::k_schema_usage, {}).string(0, 1);
      throw PrivilegeMissing("role " + role + " may not claim from queue " + queue +
                             " (pgtq.claim_queues); an admin lets it with SELECT "
                             "pgtq.set_claim_queues('" +
                             role + "', ARRAY['" + queue +
                             "', ...]), or lifts the restriction with NULL");
    }
  }
}

std::string session_visibility_warning(Connection& connection) {
  const Result seen = connection.run(queries::k_owner_sees_sessions, {});
  if (seen.rows() == 0 || seen.text(0, 0) == "t") {
    return "";
  }
  return "the owner of pgtq's functions (" + seen.string(0, 1) +
         ") may not see this session in pg_stat_activity, so a pgtqd that dies has its tasks "
         "rescued only when their leases run out; grant that role pg_read_all_stats for a "
         "rescue within seconds";
}

} // namespace pgtq::db
