// pgtqctl's periodic-task commands: schedules, schedule, cron.
#include "ctl/arguments.hpp"
#include "ctl/commands.hpp"
#include "ctl/json_output.hpp"
#include "ctl/session.hpp"
#include "db/queries.hpp"

namespace pgtq::ctl {

namespace {

// Fields of k_schedule and k_schedule_for_update, in their order.
enum Field : int {
  k_queue,
  k_task,
  k_args,
  k_cron,
  k_every,
  k_time_zone,
  k_catch_up,
  k_catch_up_within,
  k_priority,
  k_max_attempts,
  k_timeout,
  k_enabled,
  k_next_fire_at,
  k_last_fire_at,
  k_last_task_id,
  k_last_error,
};

bool changes_definition(const ScheduleOptions& o) {
  return o.queue || o.task || o.args || o.cron || o.every || o.time_zone || o.catch_up ||
         o.catch_up_within || o.priority || o.max_attempts || o.timeout;
}

// The option's value, else the stored field's (NULL or not), else fallback (a new schedule).
// The returned view points into given, stored or fallback, which outlive the statement.
db::Param given_or_stored(const std::optional<std::string>& given,
                          const db::Result& stored,
                          int field,
                          db::Param fallback = std::nullopt) {
  if (given) {
    return *given;
  }
  if (stored.rows() == 0) {
    return fallback;
  }
  return stored.is_null(0, field) ? std::nullopt : db::Param(stored.text(0, field));
}

// The same for a setting where "none" means NULL: the queue's default.
db::Param
default_or_stored(const std::optional<std::string>& given, const db::Result& stored, int field) {
  return given == "none" ? std::nullopt : given_or_stored(given, stored, field);
}

void print_schedule(const std::string& name,
                    const db::Result& row,
                    const db::Result& fire_times,
                    std::ostream& out) {
  auto field = [&row](int column, const std::string& otherwise) {
    return row.is_null(0, column) ? otherwise : row.string(0, column);
  };
  out << "schedule " << name << ": task " << row.string(0, k_task) << " on queue "
      << row.string(0, k_queue) << " with args " << row.string(0, k_args) << ", "
      << (row.is_null(0, k_cron)
              ? "every " + row.string(0, k_every)
              : "cron '" + row.string(0, k_cron) + "' in " + row.string(0, k_time_zone))
      << "; catch-up " << row.string(0, k_catch_up)
      << (row.string(0, k_catch_up) == "none" ? std::string()
                                              : " within " + row.string(0, k_catch_up_within))
      << "; priority " << field(k_priority, "the queue's default") << ", max attempts "
      << field(k_max_attempts, "the queue's default") << ", timeout "
      << field(k_timeout, "the queue's default") << "; "
      << (row.text(0, k_enabled) == "t" ? "enabled, next fire " + field(k_next_fire_at, "none")
                                        : std::string("paused"))
      << "; last fired "
      << (row.is_null(0, k_last_fire_at)
              ? std::string("never")
              : row.string(0, k_last_fire_at) + " (task " + field(k_last_task_id, "?") + ")")
      << '\n';
  if (!row.is_null(0, k_last_error)) {
    out << "last error: " << row.string(0, k_last_error) << '\n';
  }
  out << "next fire times" << (row.text(0, k_enabled) == "t" ? "" : " once resumed") << ":\n";
  for (int i = 0; i < fire_times.rows(); ++i) {
    out << "  " << fire_times.string(i, 0) << '\n';
  }
}

} // namespace

int schedules(const std::string& dsn, bool json, std::ostream& out) {
  db::Connection connection = connect(dsn);
  const db::Result rows = connection.run(db::queries::k_schedules, {});
  if (json) {
    print_json_array(rows,
                     {{"schedule", 0, JsonKind::text},
                      {"queue", 1, JsonKind::text},
                      {"task", 2, JsonKind::text},
                      {"when", 3, JsonKind::text},
                      {"catch_up", 4, JsonKind::text},
                      {"state", 5, JsonKind::text},
                      {"next_fire_at", 6, JsonKind::optional_text},
                      {"last_fire_at", 7, JsonKind::optional_text},
                      {"last_task_id", 8, JsonKind::number},
                      {"last_error", 9, JsonKind::optional_text}},
                     out);
    return 0;
  }
  if (rows.rows() == 0) {
    out << "no schedules (pgtqctl schedule NAME --queue Q --task T --cron EXPR creates one)\n";
    return 0;
  }
  print_table({"schedule",
               "queue",
               "task",
               "when",
               "catch-up",
               "state",
               "next fire",
               "last fire",
               "last task",
               "last error"},
              rows,
              out);
  return 0;
}

int schedule(const std::string& dsn, const ScheduleOptions& options, std::ostream& out) {
  check_name("schedule", options.name);
  const int actions = int(options.pause) + int(options.resume) + int(options.remove);
  if (actions > 1) {
    throw UsageError("--pause, --resume and --delete go one at a time");
  }
  if (actions == 1 && changes_definition(options)) {
    throw UsageError("--pause, --resume and --delete take no other change");
  }
  if (options.cron && options.every) {
    throw UsageError("--cron and --every cannot go together: a schedule has one of them");
  }
  const int count = parse_int("--count", options.count, 1, 1000);
  db::Connection connection = connect(dsn);
  if (options.remove) {
    const bool deleted =
        connection.run(db::queries::k_delete_schedule, {options.name}).text(0, 0) == "t";
    out << (deleted ? "schedule " + options.name + " deleted; the tasks it pushed stay"
                    : "no schedule named " + options.name)
        << '\n';
    return deleted ? 0 : 1;
  }
  // One transaction: the stored definition is read locked, so that a change committed
  // meanwhile is not written over with old values; an error ends the process, and with it
  // the transaction.
  connection.run_script("BEGIN");
  if (options.pause) {
    connection.run(db::queries::k_pause_schedule, {options.name});
  } else if (options.resume) {
    connection.run(db::queries::k_resume_schedule, {options.name});
  } else if (changes_definition(options)) {
    const db::Result stored = connection.run(db::queries::k_schedule_for_update, {options.name});
    if (stored.rows() == 0 &&
        (!options.queue || !options.task || (!options.cron && !options.every))) {
      throw UsageError("no schedule named " + options.name +
                       ": a new schedule needs --queue, --task and --cron or --every");
    }
    const bool cron = options.cron || (!options.every && !stored.is_null(0, k_cron));
    connection.run(db::queries::k_set_schedule,
                   {options.name,
                    given_or_stored(options.queue, stored, k_queue),
                    given_or_stored(options.task, stored, k_task),
                    given_or_stored(options.args, stored, k_args, "[]"),
                    cron ? given_or_stored(options.cron, stored, k_cron) : std::nullopt,
                    cron ? std::nullopt : given_or_stored(options.every, stored, k_every),
                    given_or_stored(options.time_zone, stored, k_time_zone, "UTC"),
                    given_or_stored(options.catch_up, stored, k_catch_up, "latest"),
                    given_or_stored(options.catch_up_within, stored, k_catch_up_within, "1 day"),
                    default_or_stored(options.priority, stored, k_priority),
                    default_or_stored(options.max_attempts, stored, k_max_attempts),
                    default_or_stored(options.timeout, stored, k_timeout),
                    stored.rows() == 0 || stored.text(0, k_enabled) == "t" ? "true" : "false"});
  }
  // Read, not locked: showing a schedule must not hold back the scheduler's tick.
  const db::Result row = connection.run(db::queries::k_schedule, {options.name});
  if (row.rows() == 0) {
    connection.run_script("COMMIT");
    out << "no schedule named " << options.name << '\n';
    return 1;
  }
  const db::Result fire_times =
      connection.run(db::queries::k_schedule_fire_times, {options.name, std::to_string(count)});
  connection.run_script("COMMIT");
  print_schedule(options.name, row, fire_times, out);
  return 0;
}

int cron(const std::string& dsn,
         const std::string& expression,
         const std::string& time_zone,
         const std::string& count,
         std::ostream& out) {
  const int n = parse_int("--count", count, 1, 1000);
  db::Connection connection = connect(dsn);
  const db::Result times =
      connection.run(db::queries::k_cron_fire_times, {expression, time_zone, std::to_string(n)});
  if (times.rows() == 0) {
    out << "'" << expression << "' fires less often than once in 10 years\n";
    return 1;
  }
  for (int i = 0; i < times.rows(); ++i) {
    out << times.string(i, 0) << '\n';
  }
  return 0;
}

} // namespace pgtq::ctl
