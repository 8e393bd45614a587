#pragma once

#include "db/connection.hpp"
#include "db/result.hpp"

#include <ostream>
#include <string>
#include <vector>

namespace pgtq::ctl {

// pgtqctl's connection: named "pgtqctl" in pg_stat_activity, errors without the PL/pgSQL
// call stack that raised them (an operator reads the error). Throws db::PgError.
db::Connection connect(const std::string& dsn);

// Prints rows as an aligned table under a header line (one name per column).
void print_table(const std::vector<std::string>& header, const db::Result& rows, std::ostream& out);

} // namespace pgtq::ctl
