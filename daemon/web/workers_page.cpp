#include "db/queries.hpp"
#include "web/pages.hpp"

namespace pgtq::web {

std::string workers_page(db::Connection& connection, const PageContext& context) {
  const db::Result workers = connection.run(db::queries::k_live_workers, {db::Param()});
  std::string body = "<table id=\"workers\"><tr><th>worker</th><th>queue</th><th>host</th>"
                     "<th>pid</th><th>version</th><th>slots</th><th>isolation</th>"
                     "<th>running</th><th>last seen (s ago)</th><th>started</th></tr>\n";
  for (int row = 0; row < workers.rows(); ++row) {
    body += "<tr>";
    for (int column = 0; column < workers.columns(); ++column) {
      body += cell(workers.optional_string(row, column).value_or(""));
    }
    body += "</tr>\n";
  }
  body += "</table>";
  if (workers.rows() == 0) {
    body += "<p class=\"muted\">No live worker: no pgtqd has been heard from lately.</p>";
  }
  return page(context, "Workers", body);
}

} // namespace pgtq::web
