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
// The claim loop's own session (claims, releases, its idle registration): also commits that
// do not wait for the WAL flush. A claim lost in a server crash leaves its task as it was
// (queued, or held under the claim before), so the worker's outcome, fenced by the lost
// claim's token, is refused and the task runs again: at least once, as ever. Outcomes are
// recorded on the work session and wait for the flush, which makes every claim committed
// before them durable too (the WAL is one sequence). A claim's round trip no longer includes
// a disk flush: lower pickup latency, more claims per second.
db::SessionSettings claim_session(Duration heartbeat);
// Lease renewals: also a statement_timeout of one heartbeat (at least 1 s), a safety net:
// pgtq.heartbeat() skips locked rows and should never wait.
db::SessionSettings lease_session(Duration heartbeat);
// The scheduler's ticks and its registration: a lock_timeout of 1 s, so that a row of
// pgtq.waiting_schedulers locked by an operator's open transaction cannot stop the ticks
// (the tick's sweeps skip locked rows anyway).
db::SessionSettings scheduler_session();

// Logs a warning, saying what to do, when the server or pooler refused the settings above.
void warn_if_startup_options_refused(const db::Connection& connection);

// "pgtqd:<queue>:<role>:<worker name>", cut to PostgreSQL's 63 bytes, for
// pg_stat_activity; an application_name in the DSN overrides it.
std::string application_name(const ConnectionSettings& connection, std::string_view role);

} // namespace pgtq::queue
