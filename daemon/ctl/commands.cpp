#include "ctl/commands.hpp"

#include "ctl/arguments.hpp"
#include "ctl/json_output.hpp"
#include "ctl/session.hpp"
#include "db/connection.hpp"
#include "db/migrator.hpp"
#include "db/pg_error.hpp"
#include "db/queries.hpp"

#include <pgtq/client/pg_array.hpp>

#include <algorithm>
#include <iomanip>
#include <string_view>
#include <vector>

namespace pgtq::ctl {

int migrate(const std::string& dsn, std::ostream& out) {
  db::Connection connection = connect(dsn);
  const db::Migrator migrator;
  const std::vector<db::Migration> applied = migrator.migrate(connection);
  for (const db::Migration& migration : applied) {
    out << "applied " << migration.file_name << '\n';
  }
  const db::SchemaStatus status = migrator.status(connection);
  out << "pgtq schema is at version " << status.database_version
      << (applied.empty() ? " (already up to date)" : "") << '\n';
  return 0;
}

int schema_version(const std::string& dsn, std::ostream& out) {
  db::Connection connection = connect(dsn);
  const db::SchemaStatus status = db::Migrator().status(connection);
  out << "database: " << status.database_version << ", this pgtq: " << status.known_version << '\n';
  return status.database_version == status.known_version ? 0 : 1;
}

int push(const std::string& dsn, const PushOptions& options, std::ostream& out) {
  check_name("queue", options.queue);
  check_name("task", options.task);
  const std::optional<std::string> priority =
      options.priority
          ? std::optional(std::to_string(parse_int("--priority", *options.priority, -32768, 32767)))
          : std::nullopt;
  const std::optional<std::string> attempts =
      options.max_attempts ? std::optional(std::to_string(
                                 parse_int("--max-attempts", *options.max_attempts, 1, 1000)))
                           : std::nullopt;
  std::optional<std::string> unique_states;
  if (!options.unique_states.empty()) {
    std::string literal = "{";
    for (const std::string& state : options.unique_states) {
      check_state(state, "--unique-state");
      literal += (literal.size() > 1 ? "," : "") + state; // checked: a plain word
    }
    unique_states = literal + "}";
  }
  std::optional<std::string> depends_on;
  if (!options.depends_on.empty()) {
    std::vector<std::int64_t> ids;
    for (const std::string& id : options.depends_on) {
      ids.push_back(parse_task_id(id, "--depends-on"));
    }
    depends_on = pgtq::detail::pg_integer_array(ids);
  }
  // args, --run-at, --delay, --timeout, --on-parent-failure and the unique options are checked
  // by pgtq.push, whose error names them.
  db::Connection connection = connect(dsn);
  const db::Result id = connection.run(
      db::queries::k_push,
      {options.queue,
       options.task,
       options.args,
       options.run_at ? db::Param(*options.run_at) : std::nullopt,
       options.delay ? db::Param(*options.delay) : std::nullopt,
       priority ? db::Param(*priority) : std::nullopt,
       attempts ? db::Param(*attempts) : std::nullopt,
       options.timeout ? db::Param(*options.timeout) : std::nullopt,
       options.unique_key ? db::Param(*options.unique_key) : std::nullopt,
       unique_states ? db::Param(*unique_states) : std::nullopt,
       options.unique_period ? db::Param(*options.unique_period) : std::nullopt,
       options.on_conflict ? db::Param(*options.on_conflict) : std::nullopt,
       options.fairness_key ? db::Param(*options.fairness_key) : std::nullopt,
       options.tags.empty() ? std::nullopt : db::Param(pgtq::detail::pg_text_array(options.tags)),
       options.metadata,
       depends_on,
       options.on_parent_failure});
  out << id.text(0, 0) << '\n';
  return 0;
}

int stats(const std::string& dsn,
          const std::optional<std::string>& queue,
          bool json,
          std::ostream& out) {
  if (queue) {
    check_name("--queue", *queue);
  }
  db::Connection connection = connect(dsn);
  const db::Result rows =
      connection.run(db::queries::k_queue_stats, {queue ? db::Param(*queue) : std::nullopt});
  if (json) {
    print_json_array(rows,
                     {{"queue", 0, JsonKind::text},
                      {"state", 1, JsonKind::text},
                      {"tasks", 2, JsonKind::number}},
                     out);
  } else {
    print_table({"queue", "state", "tasks"}, rows, out);
  }
  warn_unhandled(connection, queue);
  return 0;
}

namespace {

// A bulk command's filter: names, states (those the command takes), the limit and the error
// text are checked before connecting; times by the server, whatever it reads as timestamptz.
int check_filter(const BulkOptions& filter,
                 const std::vector<std::string_view>& allowed,
                 const std::string& allowed_text) {
  if (filter.queue) {
    check_name("--queue", *filter.queue);
  }
  if (filter.task) {
    check_name("--task", *filter.task);
  }
  for (const std::string& state : filter.states) {
    check_state(state);
    if (std::find(allowed.begin(), allowed.end(), state) == allowed.end()) {
      throw UsageError("--state must be " + allowed_text + " here, got '" + state + "'");
    }
  }
  if (filter.error_contains && filter.error_contains->empty()) {
    throw UsageError("--error must not be empty (leave it out to match any error)");
  }
  return filter.limit ? parse_int("--limit", *filter.limit, 1, 100000) : 10000;
}

void check_times(db::Connection& connection,
                 const BulkOptions& filter,
                 const std::string& after_option,
                 const std::string& before_option) {
  check_timestamp(connection, after_option, filter.after);
  check_timestamp(connection, before_option, filter.before);
}

// "{failed,cancelled}", or the default when none was given.
std::string states_literal(const BulkOptions& filter, const char* fallback) {
  if (filter.states.empty()) {
    return fallback;
  }
  std::string literal = "{";
  for (const std::string& state : filter.states) {
    literal += (literal.size() > 1 ? "," : "") + state; // checked: plain words
  }
  return literal + "}";
}

// One task by id, or --all with filters: never both, never neither.
void check_target(const char* command,
                  const std::optional<std::string>& id,
                  bool all,
                  const BulkOptions& filter) {
  if (id && all) {
    throw UsageError(std::string(command) + ": give a task id or --all, not both");
  }
  if (!id && !all) {
    throw UsageError(std::string(command) + ": give a task id, or --all with filters");
  }
  const bool filtered = filter.queue || filter.task || filter.error_contains || filter.after ||
                        filter.before || !filter.states.empty() || filter.limit || filter.dry_run;
  if (id && filtered) {
    throw UsageError(std::string(command) +
                     ": filters, --limit and --dry-run go with --all, not with a task id");
  }
}

std::string tasks(long long count) {
  return std::to_string(count) + (count == 1 ? " task" : " tasks");
}

// Why the one task named was not changed: "unknown", or its state.
std::string why_not(db::Connection& connection, const std::string& id) {
  const db::Result state = connection.run(db::queries::k_task_state, {id});
  return state.rows() == 0 ? "unknown" : state.string(0, 0);
}

// Calls a bulk function (retry_all, cancel_all, delete_all) until a call changes nothing, or
// once for a dry run; returns the total. Each call goes on behind the last: what it changed
// no longer matches, and the caller fixed any cutoff once for all of them.
std::int64_t call_until_done(db::Connection& connection,
                             const db::Query& query,
                             const std::vector<db::Param>& params,
                             bool dry_run) {
  std::int64_t total = 0;
  for (;;) {
    const std::int64_t done = connection.run(query, params).int64(0, 0);
    total += done;
    if (dry_run || done == 0) {
      return total;
    }
  }
}

} // namespace

int retry(const std::string& dsn,
          const std::optional<std::string>& id,
          bool all,
          const BulkOptions& filter,
          std::ostream& out) {
  check_target("retry", id, all, filter);
  if (id) {
    const std::string id_text = std::to_string(parse_task_id(*id));
    db::Connection connection = connect(dsn);
    if (connection.run(db::queries::k_retry, {id_text}).text(0, 0) != "t") {
      const std::string state = why_not(connection, id_text);
      if (state == "failed" || state == "cancelled") {
        out << "task " << id_text
            << " not retried: a live task of its queue holds its unique key\n";
      } else {
        out << "task " << id_text << " not retried: it is " << state
            << " (only failed or cancelled tasks are retried)\n";
      }
      return 1;
    }
    out << "task " << id_text << " queued again\n";
    return 0;
  }
  const int limit = check_filter(filter, {"failed", "cancelled"}, "failed or cancelled");
  db::Connection connection = connect(dsn);
  check_times(connection, filter, "--finished-after", "--finished-before");
  const std::string states = states_literal(filter, "{failed}");
  // The same cutoff for every call: a task retried by one call that fails again before the
  // next must not be retried twice while those behind it wait. A given --finished-before is
  // read once, and no later than now ('now' or a future time would move with every call).
  const std::string before =
      filter.before ? connection.run(db::queries::k_cutoff, {*filter.before}).string(0, 0)
                    : connection.run(db::queries::k_now, {}).string(0, 0);
  const std::string limit_text = std::to_string(limit);
  const std::int64_t total = call_until_done(connection,
                                             db::queries::k_retry_all,
                                             {filter.queue,
                                              filter.task,
                                              filter.error_contains,
                                              filter.after,
                                              before,
                                              states,
                                              limit_text,
                                              filter.dry_run ? "true" : "false"},
                                             filter.dry_run);
  out << (filter.dry_run ? "would retry " : "retried ") << tasks(total) << '\n';
  return 0;
}

int cancel(const std::string& dsn,
           const std::optional<std::string>& id,
           bool all,
           const BulkOptions& filter,
           std::ostream& out) {
  check_target("cancel", id, all, filter);
  if (id) {
    const std::string id_text = std::to_string(parse_task_id(*id));
    db::Connection connection = connect(dsn);
    const db::Result done = connection.run(db::queries::k_cancel, {id_text});
    if (done.text(0, 0) != "t") {
      out << "task " << id_text << " not cancelled: it is " << why_not(connection, id_text) << '\n';
      return 1;
    }
    out << "task " << id_text << " cancelled (a running task is asked to stop)\n";
    return 0;
  }
  const int limit = check_filter(filter,
                                 {"pending", "queued", "scheduled", "running"},
                                 "pending, queued, scheduled or running");
  db::Connection connection = connect(dsn);
  check_times(connection, filter, "--created-after", "--created-before");
  const std::string states = states_literal(filter, "{queued,scheduled}");
  const std::string limit_text = std::to_string(limit);
  const std::int64_t total = call_until_done(connection,
                                             db::queries::k_cancel_all,
                                             {filter.queue,
                                              filter.task,
                                              filter.after,
                                              filter.before,
                                              states,
                                              limit_text,
                                              filter.dry_run ? "true" : "false"},
                                             filter.dry_run);
  const bool running =
      std::find(filter.states.begin(), filter.states.end(), "running") != filter.states.end();
  out << (filter.dry_run ? "would cancel " : "cancelled ") << tasks(total)
      << (running ? " (running ones are asked to stop)" : "") << '\n';
  return 0;
}

int delete_task(const std::string& dsn,
                const std::optional<std::string>& id,
                bool all,
                const BulkOptions& filter,
                std::ostream& out) {
  check_target("delete", id, all, filter);
  if (id) {
    const std::string id_text = std::to_string(parse_task_id(*id));
    db::Connection connection = connect(dsn);
    if (connection.run(db::queries::k_delete, {id_text}).text(0, 0) != "t") {
      out << "task " << id_text << " is unknown\n";
      return 1;
    }
    out << "task " << id_text << " deleted\n";
    return 0;
  }
  if (filter.states.empty()) {
    throw UsageError("delete --all needs --state: the states to delete (pending, queued, "
                     "scheduled, succeeded, failed, cancelled)");
  }
  const int limit =
      check_filter(filter,
                   {"pending", "queued", "scheduled", "succeeded", "failed", "cancelled"},
                   "pending, queued, scheduled, succeeded, failed or cancelled");
  db::Connection connection = connect(dsn);
  check_times(connection, filter, "--created-after", "--created-before");
  // One cutoff for every call, as retry's: tasks pushed while it deletes are not its to
  // delete, and a queue pushed to faster than it deletes cannot keep it going.
  const std::string before =
      filter.before ? connection.run(db::queries::k_cutoff, {*filter.before}).string(0, 0)
                    : connection.run(db::queries::k_now, {}).string(0, 0);
  const std::string states = states_literal(filter, "{}");
  const std::string limit_text = std::to_string(limit);
  const std::int64_t total = call_until_done(connection,
                                             db::queries::k_delete_all,
                                             {states,
                                              filter.queue,
                                              filter.task,
                                              filter.after,
                                              before,
                                              limit_text,
                                              filter.dry_run ? "true" : "false"},
                                             filter.dry_run);
  out << (filter.dry_run ? "would delete " : "deleted ") << tasks(total) << '\n';
  return 0;
}

int update(const std::string& dsn,
           const std::string& id,
           const UpdateOptions& changes,
           std::ostream& out) {
  const std::string id_text = std::to_string(parse_task_id(id));
  if (!changes.args && !changes.priority && !changes.run_at && !changes.max_attempts &&
      !changes.timeout) {
    throw UsageError(
        "update: give at least one of --args, --priority, --run-at, --max-attempts, --timeout");
  }
  const std::optional<std::string> priority =
      changes.priority
          ? std::optional(std::to_string(parse_int("--priority", *changes.priority, -32768, 32767)))
          : std::nullopt;
  const std::optional<std::string> attempts =
      changes.max_attempts ? std::optional(std::to_string(
                                 parse_int("--max-attempts", *changes.max_attempts, 1, 1000)))
                           : std::nullopt;
  // --args, --run-at and --timeout are checked by pgtq.update, whose error names them.
  db::Connection connection = connect(dsn);
  if (connection
          .run(db::queries::k_update,
               {id_text,
                changes.args ? db::Param(*changes.args) : std::nullopt,
                priority ? db::Param(*priority) : std::nullopt,
                changes.run_at ? db::Param(*changes.run_at) : std::nullopt,
                attempts ? db::Param(*attempts) : std::nullopt,
                changes.timeout ? db::Param(*changes.timeout) : std::nullopt})
          .text(0, 0) != "t") {
    out << "task " << id_text << " is unknown\n";
    return 1;
  }
  out << "task " << id_text << " updated\n";
  return 0;
}

} // namespace pgtq::ctl
