#pragma once

#include "db/connection.hpp"

#include <stdexcept>
#include <string>
#include <vector>

namespace pgtq::db {

// The database role pgtqd runs as lacks a right pgtqd needs (sql/schema/22_roles.sql). Its
// message names each missing right and the grant that gives it; pgtqd exits 78.
class PrivilegeMissing : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

// Checks that the session's role may do all that pgtqd does: use the schema, read the
// tables it reads, execute every function it calls (pgtq_worker's rights). Run it before
// anything else reads the schema: without USAGE, nothing else could say why it failed.
// Throws PrivilegeMissing.
void require_worker_privileges(Connection& connection);

// Checks that the session may claim from each of queues (pgtq.set_claim_queues), by a
// pgtq.claim of max_count 0 under worker's name, which takes and changes nothing. Needs the
// current schema. Throws PrivilegeMissing for a refused queue (42501), and the PgError of any
// other failure (a lost connection: the caller retries).
void require_claim_rights(Connection& connection,
                          const std::vector<std::string>& queues,
                          const std::string& worker);

// A warning to log when the functions' owner cannot see this session's start in
// pg_stat_activity: pgtq.worker_seen then records no session, and a pgtqd that dies has its
// tasks rescued when their leases run out rather than within seconds. "" when it can.
std::string session_visibility_warning(Connection& connection);

} // namespace pgtq::db
