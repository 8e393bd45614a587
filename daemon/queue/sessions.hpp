#pragma once

#include "db/connection.hpp"
#include "queue/settings.hpp"

#include <string>
#include <string_view>

namespace pgtq::queue {

// How pgtqd opens its connections. Every one runs at READ COMMITTED whatever the database or
// role default: the protocol functions rely on it (SKIP LOCKED claims, fencing by token).
//
// Claims, outcomes and releases: a lock_timeout, so that a row lock held by another session
// (an operator's open UPDATE) holds up the claim loop for a moment only; what could not be
// recorded is kept and recorded again later. Half a heartbeat, between 100 ms and 1 s.
db::SessionSettings work_session(Duration heartbeat);
// Lease renewals: also a statement_timeout of one heartbeat (at least 1 s), a safety net:
// pgtq.heartbeat() skips locked rows and should never wait.
db::SessionSettings lease_session(Duration heartbeat);
// The scheduler's ticks.
db::SessionSettings scheduler_session();

// Logs a warning, saying what to do, when the server or pooler refused the settings above.
void warn_if_startup_options_refused(const db::Connection& connection);

// "pgtqd:<queue>:<role>:<worker name>", cut to PostgreSQL's 63 bytes, for
// pg_stat_activity; an application_name in the DSN overrides it.
std::string application_name(const ConnectionSettings& connection, std::string_view role);

} // namespace pgtq::queue
