#pragma once

#include "support/sql.hpp"

#include <string>

namespace pgtq::test {

// Counting how often pgtqd called a pgtq function, from the server's own statistics: a count
// of work done (ticks, claims) that holds for any build of pgtqd and needs nothing in its log.
// track_functions applies to sessions that start after this.
inline void count_function_calls(db::Connection& connection, const std::string& database) {
  query(connection, "ALTER DATABASE \"" + database + "\" SET track_functions = 'pl'");
}

// Calls of pgtq.<name> reported so far. A backend reports its counts at the latest when it
// exits: read this once the daemon has stopped.
inline long long function_calls(db::Connection& connection, const std::string& name) {
  return count(connection,
               "SELECT coalesce(sum(calls), 0) FROM pg_stat_user_functions "
               "WHERE schemaname = 'pgtq' AND funcname = $1",
               {name});
}

} // namespace pgtq::test
