#include "ctl/session.hpp"

#include "ctl/arguments.hpp"
#include "db/pg_error.hpp"
#include "db/queries.hpp"

#include <libpq-fe.h>

#include <algorithm>
#include <iomanip>
#include <iostream>

namespace pgtq::ctl {

db::Connection connect(const std::string& dsn) {
  db::Connection connection(dsn, "pgtqctl");
  // An operator reads the error, not the PL/pgSQL call stack that raised it.
  PQsetErrorContextVisibility(connection.native(), PQSHOW_CONTEXT_NEVER);
  return connection;
}

void print_table(const std::vector<std::string>& header,
                 const db::Result& rows,
                 std::ostream& out) {
  std::vector<int> columns;
  for (int column = 0; column < rows.columns(); ++column) {
    columns.push_back(column);
  }
  print_table(header, columns, rows, out);
}

void print_table(const std::vector<std::string>& header,
                 const std::vector<int>& columns,
                 const db::Result& rows,
                 std::ostream& out) {
  std::vector<std::size_t> widths;
  for (const std::string& name : header) {
    widths.push_back(name.size());
  }
  for (int row = 0; row < rows.rows(); ++row) {
    for (std::size_t i = 0; i < widths.size(); ++i) {
      widths[i] = std::max(widths[i], rows.text(row, columns[i]).size());
    }
  }
  auto print_row = [&](auto&& cell) {
    for (std::size_t i = 0; i < widths.size(); ++i) {
      out << (i == 0 ? "" : "  ") << std::left << std::setw(static_cast<int>(widths[i])) << cell(i);
    }
    out << '\n';
  };
  print_row([&](std::size_t i) { return header[i]; });
  for (int row = 0; row < rows.rows(); ++row) {
    print_row([&](std::size_t i) { return rows.string(row, columns[i]); });
  }
}

void check_timestamp(db::Connection& connection,
                     const std::string& option,
                     const std::optional<std::string>& text) {
  if (!text) {
    return;
  }
  try {
    connection.run(db::queries::k_timestamp_ok, {*text});
  } catch (const db::PgError& error) {
    if (error.is_connection_error()) {
      throw;
    }
    throw UsageError(option +
                     " must be a timestamp, e.g. '2026-12-01 09:00' or 'yesterday', got '" + *text +
                     "'");
  }
}

void warn_unhandled(db::Connection& connection, const std::optional<std::string>& queue) {
  const db::Result rows =
      connection.run(db::queries::k_unhandled_tasks, {queue ? db::Param(*queue) : std::nullopt});
  // The query returns one more row than it shows, to say that there are more.
  const int shown = std::min(rows.rows(), k_unhandled_shown);
  for (int row = 0; row < shown; ++row) {
    std::cerr << "warning: queue " << rows.string(row, 0) << " has " << rows.string(row, 2)
              << " queued task(s) named \"" << rows.string(row, 1) << "\" (the oldest due "
              << rows.string(row, 3) << ") that no live pgtqd "
              << (rows.text(row, 4) == "t"
                      ? "of the queue handles: is the name right, and its plugin loaded?"
                      : "takes: none serves the queue")
              << "\n";
  }
  if (rows.rows() > shown) {
    std::cerr << "warning: more task names that no live pgtqd handles: SELECT * FROM "
                 "pgtq.unhandled_tasks lists them all\n";
  }
}

} // namespace pgtq::ctl
