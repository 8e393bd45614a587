#pragma once

#include "db/pg_error.hpp"

#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace pgtq::ctl {

// What an operator reads of a database error: the server's message on one line with its
// SQLSTATE, then its DETAIL and HINT lines, and nothing of the statement's name, the severity,
// the position in the query or the call stack. The text comes as libpq formats it in
// db::PgError ("query_name: ERROR:  message\nLINE 1: ...\nDETAIL:  ...\nHINT:  ...").
struct ErrorReport {
  std::string message;
  std::optional<std::string> detail;
  std::optional<std::string> hint;
};
ErrorReport parse_error_text(const std::string& text);

// The SQLSTATEs a statement fails with when the pgtq schema, or a table or function of it, is
// missing: a database not migrated yet, or migrated by an older pgtq.
bool means_unmigrated(const std::string& sqlstate);

// Prints error as "pgtqctl: message (SQLSTATE xxxxx)" plus "DETAIL: " and "HINT: " lines.
// With a dsn and an SQLSTATE of means_unmigrated, asks the database for its schema version and
// adds a line saying to run `pgtqctl migrate` when it is behind this pgtqctl.
void report_error(const db::PgError& error,
                  const std::optional<std::string>& dsn,
                  std::ostream& err);

} // namespace pgtq::ctl
