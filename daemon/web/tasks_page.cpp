#include "ctl/arguments.hpp"
#include "db/pg_error.hpp"
#include "db/queries.hpp"
#include "web/html.hpp"
#include "web/pages.hpp"

#include <array>

namespace pgtq::web {
namespace {

// The filters, in the order of the form and of the links that keep them.
constexpr std::array<const char*, 10> k_filters = {"queue",
                                                   "state",
                                                   "task",
                                                   "unique_key",
                                                   "tag",
                                                   "error",
                                                   "created_after",
                                                   "created_before",
                                                   "finished_after",
                                                   "finished_before"};
constexpr int k_default_limit = 50;

db::Param param(const http::HttpRequest& request, const char* name) {
  const std::string& value = http::HttpRequest::get(request.query, name);
  return value.empty() ? db::Param() : db::Param(value);
}

std::string filter_form(const http::HttpRequest& request, const std::string& limit) {
  std::string html = "<form class=\"filters\" method=\"get\" action=\"/tasks\">";
  for (const char* name : k_filters) {
    if (std::string(name) == "error") { // set by the failures page's links, not typed
      const std::string& error = http::HttpRequest::get(request.query, name);
      if (!error.empty()) {
        html += "<input type=\"hidden\" name=\"error\" value=\"" + html_escape(error) + "\">";
      }
      continue;
    }
    html += "<label>" + std::string(name) + " <input name=\"" + name + "\" value=\"" +
            html_escape(http::HttpRequest::get(request.query, name)) + "\"></label> ";
  }
  return html + "<label>limit <input name=\"limit\" value=\"" + html_escape(limit) +
         "\"></label> <button id=\"filter\">filter</button></form>"
         "<p class=\"muted\">Times are read by PostgreSQL, e.g. 2026-12-03 14:00+00 or "
         "yesterday.</p>";
}

} // namespace

std::string tasks_page(db::Connection& connection,
                       const http::HttpRequest& request,
                       const PageContext& context) {
  std::string limit = http::HttpRequest::get(request.query, "limit");
  if (limit.empty()) {
    limit = std::to_string(k_default_limit);
  }
  std::string body = filter_form(request, limit);
  const std::string& error = http::HttpRequest::get(request.query, "error");
  if (!error.empty()) {
    body += "<p class=\"note\">Only tasks whose last error is: " + html_escape(error) + "</p>";
  }
  try {
    const int shown = ctl::parse_int("limit", limit, 1, 1000);
    const std::string& state = http::HttpRequest::get(request.query, "state");
    if (!state.empty()) {
      ctl::check_state(state, "state");
    }
    const std::string& before = http::HttpRequest::get(request.query, "before");
    if (!before.empty()) {
      ctl::parse_task_id(before, "before");
    }
    const std::string fetch = std::to_string(shown + 1); // one more: is there another page?
    const db::Result rows = connection.run(db::queries::k_web_tasks,
                                           {param(request, "before"),
                                            param(request, "queue"),
                                            param(request, "state"),
                                            param(request, "task"),
                                            param(request, "unique_key"),
                                            param(request, "tag"),
                                            param(request, "created_after"),
                                            param(request, "created_before"),
                                            param(request, "finished_after"),
                                            param(request, "finished_before"),
                                            param(request, "error"),
                                            fetch});
    body += "<table id=\"tasks\"><tr><th>id</th><th>queue</th><th>task</th><th>state</th>"
            "<th>attempts</th><th>created (UTC)</th><th>finished (UTC)</th><th>tags</th>"
            "<th>last error</th></tr>\n";
    const int count = rows.rows() < shown + 1 ? rows.rows() : shown;
    for (int row = 0; row < count; ++row) {
      const std::string id = rows.string(row, 0);
      const std::string row_state = rows.string(row, 3);
      body += "<tr data-id=\"" + html_escape(id) + "\"><td><a href=\"/task?id=" + url_encode(id) +
              "\">" + html_escape(id) + "</a></td>" + cell(rows.string(row, 1)) +
              cell(rows.string(row, 2)) + "<td class=\"state state-" + html_escape(row_state) +
              "\">" + html_escape(row_state) + "</td>" +
              cell(rows.string(row, 4) + "/" + rows.string(row, 5)) + cell(rows.string(row, 6)) +
              cell(rows.string(row, 7)) + cell(rows.string(row, 9)) + cell(rows.string(row, 8)) +
              "</tr>\n";
    }
    body += "</table>";
    if (count == 0) {
      body += "<p class=\"muted\">No task matches.</p>";
    }
    if (rows.rows() > shown) {
      std::string next = "/tasks?before=" + url_encode(rows.string(count - 1, 0)) +
                         "&amp;limit=" + url_encode(limit);
      for (const char* name : k_filters) {
        const std::string& value = http::HttpRequest::get(request.query, name);
        if (!value.empty()) {
          next += "&amp;" + std::string(name) + "=" + url_encode(value);
        }
      }
      body += "<p><a id=\"older\" href=\"" + next + "\">older tasks</a></p>";
    }
  } catch (const ctl::UsageError& bad) {
    body += "<p class=\"note\">" + html_escape(bad.what()) + "</p>";
  } catch (const db::PgError& bad) {
    if (bad.sqlstate().rfind("22", 0) != 0) { // not a bad value: the dashboard's problem
      throw;
    }
    body += "<p class=\"note\">" + html_escape(bad.what()) + "</p>";
  }
  return page(context, "Tasks", body);
}

} // namespace pgtq::web
