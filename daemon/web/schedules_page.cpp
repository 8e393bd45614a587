#include "db/queries.hpp"
#include "web/pages.hpp"

namespace pgtq::web {

std::string schedules_page(db::Connection& connection, const PageContext& context) {
  const db::Result schedules = connection.run(db::queries::k_schedules, {});
  std::string body = "<table id=\"schedules\"><tr><th>name</th><th>queue</th><th>task</th>"
                     "<th>when</th><th>catch-up</th><th>state</th><th>next fire</th>"
                     "<th>last fire</th><th>last task</th><th>last error</th></tr>\n";
  for (int row = 0; row < schedules.rows(); ++row) {
    body += "<tr>";
    for (int column = 0; column < schedules.columns(); ++column) {
      body += cell(schedules.string(row, column));
    }
    body += "</tr>\n";
  }
  body += "</table>";
  if (schedules.rows() == 0) {
    body += "<p class=\"muted\">No schedules (pgtqctl schedule NAME --queue ... to add one).</p>";
  }
  return page(context, "Schedules", body);
}

} // namespace pgtq::web
