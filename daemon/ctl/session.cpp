#include "ctl/session.hpp"

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
  std::vector<std::size_t> widths;
  for (const std::string& name : header) {
    widths.push_back(name.size());
  }
  for (int row = 0; row < rows.rows(); ++row) {
    for (int column = 0; column < rows.columns(); ++column) {
      widths[column] = std::max(widths[column], rows.text(row, column).size());
    }
  }
  auto print_row = [&](auto&& cell) {
    for (std::size_t column = 0; column < header.size(); ++column) {
      out << (column == 0 ? "" : "  ") << std::left << std::setw(static_cast<int>(widths[column]))
          << cell(column);
    }
    out << '\n';
  };
  print_row([&](std::size_t column) { return header[column]; });
  for (int row = 0; row < rows.rows(); ++row) {
    print_row([&](std::size_t column) { return rows.string(row, static_cast<int>(column)); });
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
