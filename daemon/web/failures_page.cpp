#include "db/queries.hpp"
#include "web/html.hpp"
#include "web/pages.hpp"

namespace pgtq::web {

std::string failures_page(db::Connection& connection, const PageContext& context) {
  const db::Result groups = connection.run(db::queries::k_web_failure_groups, {});
  std::string body =
      "<p class=\"muted\">Tasks that failed for good, grouped by queue, task name and last "
      "error (the 200 largest groups). \"retry all\" retries the group's failed tasks: those "
      "with this queue, task name and exactly this last error (at most 10000 at a time).</p>"
      "<table id=\"failures\"><tr><th>queue</th><th>task</th><th class=\"num\">count</th>"
      "<th>latest (UTC)</th><th>last error</th><th></th></tr>\n";
  for (int row = 0; row < groups.rows(); ++row) {
    const std::string queue = groups.string(row, 0);
    const std::string task = groups.string(row, 1);
    const std::string error = groups.string(row, 2);
    const std::string list = "/tasks?state=failed&amp;queue=" + url_encode(queue) +
                             "&amp;task=" + url_encode(task) + "&amp;error=" + url_encode(error);
    body += "<tr>" + cell(queue) + cell(task) + "<td class=\"num\"><a href=\"" + list + "\">" +
            html_escape(groups.string(row, 3)) + "</a></td>" + cell(groups.string(row, 4)) +
            "<td><pre>" + html_escape(error) + "</pre></td><td>" +
            action_button(context,
                          "retry-group",
                          {{"id", groups.string(row, 5)}}, // the group's latest task
                          "retry all") +
            "</td></tr>\n";
  }
  body += "</table>";
  if (groups.rows() == 0) {
    body += "<p class=\"muted\">No failed tasks.</p>";
  }
  return page(context, "Failures", body);
}

} // namespace pgtq::web
