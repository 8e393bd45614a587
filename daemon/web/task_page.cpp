#include "db/queries.hpp"
#include "web/html.hpp"
#include "web/pages.hpp"

namespace pgtq::web {
namespace {

// Columns of k_ctl_show_task (ctl/show_command.cpp's ShowField) the page shows.
enum Column {
  k_id = 0,
  k_queue = 1,
  k_task = 2,
  k_state = 3,
  k_args = 4,
  k_result = 5,
  k_last_error = 6,
  k_attempts = 8,
  k_max_attempts = 9,
  k_priority = 10,
  k_run_at = 11,
  k_created_at = 12,
  k_started_at = 13,
  k_finished_at = 14,
  k_locked_by = 15,
  k_locked_until = 16,
  k_timeout = 17,
  k_unique_key = 18,
  k_fairness_key = 19,
  k_tags = 20,
  k_metadata = 21,
  k_progress = 24,
};

std::string row(const std::string& name, const std::string& value) {
  return "<tr><th>" + name + "</th><td class=\"" + name + "\">" + html_escape(value) + "</td></tr>";
}

std::string block(const std::string& name, const std::optional<std::string>& json) {
  return "<h2>" + name + "</h2><pre id=\"" + name + "\">" +
         (json ? html_escape(*json) : "<span class=\"muted\">none</span>") + "</pre>";
}

} // namespace

std::optional<std::string>
task_page(db::Connection& connection, std::int64_t id, const PageContext& context) {
  const std::string id_text = std::to_string(id);
  const db::Result task = connection.run(db::queries::k_ctl_show_task, {id_text});
  if (task.rows() == 0) {
    return std::nullopt;
  }
  const auto text = [&](int column) { return task.optional_string(0, column).value_or(""); };
  const std::string state = text(k_state);
  std::string body = "<p>";
  if (state == "failed" || state == "cancelled") {
    body += action_button(context, "retry", {{"id", id_text}}, "retry");
  }
  if (state == "pending" || state == "queued" || state == "scheduled" || state == "running") {
    body += action_button(context, "cancel", {{"id", id_text}}, "cancel");
  }
  if (state != "running") {
    body += action_button(context, "delete", {{"id", id_text}}, "delete");
  }
  body += "</p><table id=\"task\">" + row("queue", text(k_queue)) + row("task", text(k_task)) +
          "<tr><th>state</th><td id=\"state\" class=\"state state-" + html_escape(state) + "\">" +
          html_escape(state) + "</td></tr>" +
          row("attempts", text(k_attempts) + " of " + text(k_max_attempts)) +
          row("priority", text(k_priority)) + row("run_at", text(k_run_at)) +
          row("created_at", text(k_created_at)) + row("started_at", text(k_started_at)) +
          row("finished_at", text(k_finished_at)) + row("worker", text(k_locked_by)) +
          row("lease_until", text(k_locked_until)) + row("timeout", text(k_timeout)) +
          row("unique_key", text(k_unique_key)) + row("fairness_key", text(k_fairness_key)) +
          row("tags", text(k_tags)) + row("last_error", text(k_last_error)) + "</table>";
  body += block("args", task.optional_string(0, k_args)) +
          block("result", task.optional_string(0, k_result)) +
          block("progress", task.optional_string(0, k_progress)) +
          block("metadata", task.optional_string(0, k_metadata));

  const db::Result errors = connection.run(db::queries::k_web_task_errors, {id_text});
  body += "<h2>Errors of every attempt</h2>";
  if (errors.rows() == 0) {
    body += "<p class=\"muted\">none</p>";
  } else {
    body += "<table id=\"errors\"><tr><th>attempt</th><th>at</th><th>error</th></tr>";
    for (int each = 0; each < errors.rows(); ++each) {
      body += "<tr>" + cell(errors.string(each, 0)) + cell(errors.string(each, 1)) + "<td><pre>" +
              html_escape(errors.string(each, 2)) + "</pre></td></tr>";
    }
    body += "</table>";
  }

  const db::Result parents = connection.run(db::queries::k_web_task_parents, {id_text});
  if (parents.rows() > 0) {
    body += "<h2>Parents</h2><table id=\"parents\"><tr><th>id</th><th>task</th><th>state</th></tr>";
    for (int each = 0; each < parents.rows(); ++each) {
      const std::string parent = parents.string(each, 0);
      body += "<tr><td><a href=\"/task?id=" + url_encode(parent) + "\">" + html_escape(parent) +
              "</a></td>" + cell(parents.string(each, 1)) + cell(parents.string(each, 2)) + "</tr>";
    }
    body += "</table>";
  }
  return page(context, "Task " + id_text, body);
}

} // namespace pgtq::web
