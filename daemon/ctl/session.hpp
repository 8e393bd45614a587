#pragma once

#include "db/connection.hpp"
#include "db/result.hpp"

#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace pgtq::ctl {

// pgtqctl's connection: named "pgtqctl" in pg_stat_activity, errors without the PL/pgSQL
// call stack that raised them (an operator reads the error). Throws db::PgError.
db::Connection connect(const std::string& dsn);

// Prints rows as an aligned table under a header line (one name per column).
void print_table(const std::vector<std::string>& header, const db::Result& rows, std::ostream& out);
// The same for some of the columns only: header[i] heads column columns[i] (NULL prints as '').
void print_table(const std::vector<std::string>& header,
                 const std::vector<int>& columns,
                 const db::Result& rows,
                 std::ostream& out);

// A time filter (text the server reads as timestamptz, e.g. 'yesterday'): asked of the server,
// before the statement that uses it, so that a bad one is a UsageError naming option.
void check_timestamp(db::Connection& connection,
                     const std::string& option,
                     const std::optional<std::string>& text);

// A warning line on standard error (standard output holds the table a script may read) for
// each task name of a queue (of queue, or of all when unset) whose queued tasks no live pgtqd
// handles (pgtq.unhandled_tasks): a typo in a push, a plugin not deployed, or no pgtqd for the
// queue at all; at most k_unhandled_shown, and a line saying there are more. Prints nothing
// when every queued task has a taker.
void warn_unhandled(db::Connection& connection, const std::optional<std::string>& queue);
inline constexpr int k_unhandled_shown = 100;

} // namespace pgtq::ctl
