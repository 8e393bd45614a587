// pgtqctl list: the newest tasks that match the filters, as a table or as JSON.
#include "ctl/arguments.hpp"
#include "ctl/commands.hpp"
#include "ctl/json_output.hpp"
#include "ctl/session.hpp"
#include "db/queries.hpp"

#include <pgtq/client/pg_array.hpp>

namespace pgtq::ctl {
namespace {

// Columns of k_ctl_list_tasks.
enum Column : int {
  k_id,
  k_queue,
  k_task,
  k_state,
  k_attempts,
  k_max_attempts,
  k_priority,
  k_unique_key,
  k_fairness_key,
  k_tags_text,
  k_tags_json,
  k_depends_on_text,
  k_depends_on_json,
  k_progress,
  k_args,
  k_result,
  k_last_error,
  k_metadata,
  k_run_at,
  k_created_at,
  k_started_at,
  k_finished_at,
  k_locked_by,
};

const std::vector<JsonField>& json_fields() {
  static const std::vector<JsonField> fields{
      {"id", k_id, JsonKind::number},
      {"queue", k_queue, JsonKind::text},
      {"task", k_task, JsonKind::text},
      {"state", k_state, JsonKind::text},
      {"attempts", k_attempts, JsonKind::number},
      {"max_attempts", k_max_attempts, JsonKind::number},
      {"priority", k_priority, JsonKind::number},
      {"unique_key", k_unique_key, JsonKind::optional_text},
      {"fairness_key", k_fairness_key, JsonKind::optional_text},
      {"tags", k_tags_json, JsonKind::json},
      {"depends_on", k_depends_on_json, JsonKind::json},
      {"progress", k_progress, JsonKind::json},
      {"args", k_args, JsonKind::json},
      {"result", k_result, JsonKind::json},
      {"last_error", k_last_error, JsonKind::optional_text},
      {"metadata", k_metadata, JsonKind::json},
      {"run_at", k_run_at, JsonKind::optional_text},
      {"created_at", k_created_at, JsonKind::optional_text},
      {"started_at", k_started_at, JsonKind::optional_text},
      {"finished_at", k_finished_at, JsonKind::optional_text},
      {"worker", k_locked_by, JsonKind::optional_text},
  };
  return fields;
}

} // namespace

int list(const std::string& dsn, const ListFilter& filter, std::ostream& out) {
  if (filter.queue) {
    check_name("--queue", *filter.queue);
  }
  if (filter.task) {
    check_name("--task", *filter.task);
  }
  if (filter.state) {
    check_state(*filter.state);
  }
  const std::string limit_text = std::to_string(parse_int("--limit", filter.limit, 1, 100000));
  const auto given = [](const std::optional<std::string>& value) {
    return value ? db::Param(*value) : std::nullopt;
  };
  db::Connection connection = connect(dsn);
  check_timestamp(connection, "--created-after", filter.created_after);
  check_timestamp(connection, "--created-before", filter.created_before);
  check_timestamp(connection, "--finished-after", filter.finished_after);
  check_timestamp(connection, "--finished-before", filter.finished_before);
  // --metadata is read as JSON by the server, whose error names what is wrong with it.
  const db::Result rows = connection.run(
      db::queries::k_ctl_list_tasks,
      {given(filter.queue),
       given(filter.state),
       limit_text,
       given(filter.unique_key),
       given(filter.fairness_key),
       filter.tags.empty() ? std::nullopt : db::Param(pgtq::detail::pg_text_array(filter.tags)),
       given(filter.metadata),
       given(filter.task),
       given(filter.created_after),
       given(filter.created_before),
       given(filter.finished_after),
       given(filter.finished_before)});
  if (filter.json) {
    print_json_array(rows, json_fields(), out);
    return 0;
  }
  print_table({"id",
               "queue",
               "task",
               "state",
               "attempts",
               "unique_key",
               "fairness_key",
               "tags",
               "depends_on",
               "progress",
               "args",
               "result",
               "last_error"},
              {k_id,
               k_queue,
               k_task,
               k_state,
               k_attempts,
               k_unique_key,
               k_fairness_key,
               k_tags_text,
               k_depends_on_text,
               k_progress,
               k_args,
               k_result,
               k_last_error},
              rows,
              out);
  return 0;
}

} // namespace pgtq::ctl
