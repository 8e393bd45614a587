// pgtqctl show: everything about one task, for an operator asking "what happened to 42?".
#include "ctl/arguments.hpp"
#include "ctl/commands.hpp"
#include "ctl/json_output.hpp"
#include "ctl/session.hpp"
#include "db/queries.hpp"

#include <rapidjson/document.h>

#include <iomanip>
#include <iostream>

namespace pgtq::ctl {
namespace {

constexpr int k_label_width = 19; // "on parent failure" and two spaces

// Columns of k_ctl_show_task.
enum Column : int {
  k_id,
  k_queue,
  k_task,
  k_state,
  k_args,
  k_result,
  k_last_error,
  k_errors,
  k_attempts,
  k_max_attempts,
  k_priority,
  k_run_at,
  k_created_at,
  k_started_at,
  k_finished_at,
  k_locked_by,
  k_locked_until,
  k_timeout,
  k_unique_key,
  k_fairness_key,
  k_tags,
  k_metadata,
  k_depends_on,
  k_on_parent_failure,
  k_progress,
  k_has_checkpoint,
  k_parents,
};

const std::vector<JsonField>& json_fields() {
  static const std::vector<JsonField> fields{
      {"id", k_id, JsonKind::number},
      {"queue", k_queue, JsonKind::text},
      {"task", k_task, JsonKind::text},
      {"state", k_state, JsonKind::text},
      {"args", k_args, JsonKind::json},
      {"result", k_result, JsonKind::json},
      {"last_error", k_last_error, JsonKind::optional_text},
      {"errors", k_errors, JsonKind::json},
      {"attempts", k_attempts, JsonKind::number},
      {"max_attempts", k_max_attempts, JsonKind::number},
      {"priority", k_priority, JsonKind::number},
      {"run_at", k_run_at, JsonKind::optional_text},
      {"created_at", k_created_at, JsonKind::optional_text},
      {"started_at", k_started_at, JsonKind::optional_text},
      {"finished_at", k_finished_at, JsonKind::optional_text},
      {"worker", k_locked_by, JsonKind::optional_text},
      {"lease_until", k_locked_until, JsonKind::optional_text},
      {"timeout", k_timeout, JsonKind::optional_text},
      {"unique_key", k_unique_key, JsonKind::optional_text},
      {"fairness_key", k_fairness_key, JsonKind::optional_text},
      {"tags", k_tags, JsonKind::json},
      {"metadata", k_metadata, JsonKind::json},
      {"depends_on", k_depends_on, JsonKind::json},
      {"on_parent_failure", k_on_parent_failure, JsonKind::optional_text},
      {"parents", k_parents, JsonKind::json},
      {"progress", k_progress, JsonKind::json},
      {"has_checkpoint", k_has_checkpoint, JsonKind::boolean},
  };
  return fields;
}

// A JSON value as a line of text: strings without their quotes, anything else as JSON.
std::string plain(const rapidjson::Value& value) {
  if (value.IsString()) {
    return {value.GetString(), value.GetStringLength()};
  }
  if (value.IsInt64()) {
    return std::to_string(value.GetInt64());
  }
  return value.IsNull() ? "?" : "(not text)";
}

// Continuation lines of a multi-line text indented under its first.
std::string indented(std::string text, const std::string& indent) {
  for (std::size_t at = text.find('\n'); at != std::string::npos;
       at = text.find('\n', at + 1 + indent.size())) {
    text.insert(at + 1, indent);
  }
  return text;
}

// "1 (succeeded), 2 (running)": the parents of k_parents (pgtq.task_parents).
std::string parents_line(const db::Result& row) {
  rapidjson::Document parents;
  parents.Parse(row.text(0, k_parents).data(), row.text(0, k_parents).size());
  if (parents.HasParseError() || !parents.IsArray()) {
    return row.string(0, k_depends_on);
  }
  std::string line;
  for (const rapidjson::Value& parent : parents.GetArray()) {
    if (!parent.IsObject() || !parent.HasMember("id") || !parent.HasMember("state")) {
      continue;
    }
    line += (line.empty() ? "" : ", ") + plain(parent["id"]) + " (" + plain(parent["state"]) + ")";
  }
  return line;
}

void print_errors(const db::Result& row, std::ostream& out) {
  rapidjson::Document errors;
  errors.Parse(row.text(0, k_errors).data(), row.text(0, k_errors).size());
  if (errors.HasParseError() || !errors.IsArray() || errors.Empty()) {
    out << std::left << std::setw(k_label_width) << "errors"
        << "none\n";
    return;
  }
  out << std::left << std::setw(k_label_width) << "errors" << errors.Size() << " (oldest first)\n";
  for (const rapidjson::Value& error : errors.GetArray()) {
    if (!error.IsObject()) {
      continue;
    }
    const auto member = [&error](const char* name) {
      return error.HasMember(name) ? plain(error[name]) : std::string("?");
    };
    out << "  attempt " << member("attempt") << " at " << member("at") << ": "
        << indented(member("error"), "    ") << '\n';
  }
}

void print_task(const db::Result& row, std::ostream& out) {
  const auto field = [&row](int column) {
    return row.is_null(0, column) ? std::string("-") : row.string(0, column);
  };
  const auto line = [&out](const char* name, const std::string& value) {
    out << std::left << std::setw(k_label_width) << name << value << '\n';
  };
  const bool running = row.text(0, k_state) == "running";
  line("id", field(k_id));
  line("queue", field(k_queue));
  line("task", field(k_task));
  line("state", field(k_state));
  line("attempts", field(k_attempts) + " of " + field(k_max_attempts));
  line("priority", field(k_priority));
  line("run at", field(k_run_at));
  line("created", field(k_created_at));
  line("started", field(k_started_at));
  line("finished", field(k_finished_at));
  if (running) {
    line("worker", field(k_locked_by) + ", lease until " + field(k_locked_until));
  } else if (!row.is_null(0, k_locked_by)) {
    line("last worker", field(k_locked_by));
  }
  line("timeout", row.is_null(0, k_timeout) ? "- (the task name's)" : field(k_timeout));
  line("unique key", field(k_unique_key));
  line("fairness key", field(k_fairness_key));
  line("tags", field(k_tags));
  line("metadata", field(k_metadata));
  if (!row.is_null(0, k_depends_on)) {
    line("depends on", parents_line(row));
    line("on parent failure", field(k_on_parent_failure));
  } else {
    line("depends on", "-");
  }
  line("progress", field(k_progress));
  line("checkpoint", row.text(0, k_has_checkpoint) == "t" ? "saved" : "none");
  line("args", field(k_args));
  line("result", field(k_result));
  line("last error", indented(field(k_last_error), std::string(k_label_width, ' ')));
  print_errors(row, out);
}

} // namespace

int show(const std::string& dsn, const std::string& id, bool json, std::ostream& out) {
  const std::string id_text = std::to_string(parse_task_id(id));
  db::Connection connection = connect(dsn);
  const db::Result row = connection.run(db::queries::k_ctl_show_task, {id_text});
  if (row.rows() == 0) {
    // On standard error: standard output stays empty (or valid JSON) for a script.
    std::cerr << "pgtqctl: no task has id " << id_text
              << " (never pushed, deleted, or pruned from the history)\n";
    return 1;
  }
  if (json) {
    print_json_object(row, 0, json_fields(), out);
  } else {
    print_task(row, out);
  }
  return 0;
}

} // namespace pgtq::ctl
