#include "ctl/commands.hpp"

#include "ctl/arguments.hpp"
#include "db/connection.hpp"
#include "db/migrator.hpp"
#include "db/pg_error.hpp"
#include "db/queries.hpp"

#include <algorithm>
#include <iomanip>
#include <vector>

namespace pgtq::ctl {
namespace {

db::Connection connect(const std::string& dsn) {
  return db::Connection(dsn, "pgtqctl");
}

// Prints rows as an aligned table with a header line.
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

} // namespace

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
  // args, --run-at, --delay and --timeout are checked by pgtq.push, whose error names them.
  db::Connection connection = connect(dsn);
  const db::Result id =
      connection.run(db::queries::k_push,
                     {options.queue,
                      options.task,
                      options.args,
                      options.run_at ? db::Param(*options.run_at) : std::nullopt,
                      options.delay ? db::Param(*options.delay) : std::nullopt,
                      priority ? db::Param(*priority) : std::nullopt,
                      attempts ? db::Param(*attempts) : std::nullopt,
                      options.timeout ? db::Param(*options.timeout) : std::nullopt});
  out << id.text(0, 0) << '\n';
  return 0;
}

int stats(const std::string& dsn, const std::optional<std::string>& queue, std::ostream& out) {
  if (queue) {
    check_name("--queue", *queue);
  }
  db::Connection connection = connect(dsn);
  const db::Result rows =
      connection.run(db::queries::k_queue_stats, {queue ? db::Param(*queue) : std::nullopt});
  print_table({"queue", "state", "tasks"}, rows, out);
  return 0;
}

int list(const std::string& dsn,
         const std::optional<std::string>& queue,
         const std::optional<std::string>& state,
         const std::string& limit,
         std::ostream& out) {
  if (queue) {
    check_name("--queue", *queue);
  }
  if (state) {
    check_state(*state);
  }
  const std::string limit_text = std::to_string(parse_int("--limit", limit, 1, 100000));
  db::Connection connection = connect(dsn);
  const db::Result rows = connection.run(db::queries::k_list_tasks,
                                         {queue ? db::Param(*queue) : std::nullopt,
                                          state ? db::Param(*state) : std::nullopt,
                                          limit_text});
  print_table(
      {"id", "queue", "task", "state", "attempts", "args", "result", "last_error"}, rows, out);
  return 0;
}

int cancel(const std::string& dsn, const std::string& id, std::ostream& out) {
  const std::string id_text = std::to_string(parse_task_id(id));
  db::Connection connection = connect(dsn);
  const db::Result done = connection.run(db::queries::k_cancel, {id_text});
  if (done.text(0, 0) != "t") {
    out << "task " << id_text << " is unknown or already finished\n";
    return 1;
  }
  out << "task " << id_text << " cancelled (a running task is asked to stop)\n";
  return 0;
}

int prune(const std::string& dsn, const std::string& older_than, std::ostream& out) {
  db::Connection connection = connect(dsn);
  // A zero or negative age would put the cutoff at or after now: all history.
  bool age_ok = false;
  try {
    age_ok = connection.run(db::queries::k_prune_age_ok, {older_than}).text(0, 0) == "t";
  } catch (const db::PgError& error) {
    if (error.is_connection_error()) {
      throw;
    }
  }
  if (!age_ok) {
    throw UsageError("--older-than must be an interval greater than 0 and at most 1000 years, "
                     "e.g. '30 days', got '" +
                     older_than + "'");
  }
  const db::Result removed = connection.run(db::queries::k_prune, {older_than});
  out << "removed " << removed.text(0, 0) << " finished tasks\n";
  return 0;
}

} // namespace pgtq::ctl
