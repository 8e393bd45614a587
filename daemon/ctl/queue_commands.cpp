// pgtqctl's queue commands: pause, resume, queue (settings), queues, workers.
#include "ctl/arguments.hpp"
#include "ctl/commands.hpp"
#include "ctl/json_output.hpp"
#include "ctl/session.hpp"
#include "db/queries.hpp"

namespace pgtq::ctl {

int queues(const std::string& dsn, bool json, std::ostream& out) {
  db::Connection connection = connect(dsn);
  const db::Result rows = connection.run(db::queries::k_queues_overview, {});
  if (json) {
    print_json_array(rows,
                     {{"queue", 0, JsonKind::text},
                      {"queued", 1, JsonKind::number},
                      {"scheduled", 2, JsonKind::number},
                      {"running", 3, JsonKind::number},
                      {"oldest_queued_seconds", 4, JsonKind::number},
                      {"succeeded_last_hour", 5, JsonKind::number},
                      {"failed_last_hour", 6, JsonKind::number},
                      {"wait_p95_last_hour_seconds", 7, JsonKind::number},
                      {"run_p95_last_hour_seconds", 8, JsonKind::number},
                      {"workers", 9, JsonKind::number},
                      {"paused", 10, JsonKind::boolean}},
                     out);
    warn_unhandled(connection, std::nullopt);
    return 0;
  }
  print_table({"queue",
               "queued",
               "scheduled",
               "running",
               "oldest queued s",
               "succeeded 1h",
               "failed 1h",
               "wait p95 1h s",
               "run p95 1h s",
               "workers",
               "paused"},
              rows,
              out);
  warn_unhandled(connection, std::nullopt);
  return 0;
}

int pause(const std::string& dsn, const std::string& queue, std::ostream& out) {
  check_name("queue", queue);
  db::Connection connection = connect(dsn);
  const bool changed = connection.run(db::queries::k_pause, {queue}).text(0, 0) == "t";
  out << "queue " << queue << (changed ? " paused" : " was paused already")
      << ": pushes are accepted, nothing is claimed until it is resumed\n";
  return 0;
}

int resume(const std::string& dsn, const std::string& queue, std::ostream& out) {
  check_name("queue", queue);
  db::Connection connection = connect(dsn);
  const bool changed = connection.run(db::queries::k_resume, {queue}).text(0, 0) == "t";
  out << "queue " << queue << (changed ? " resumed" : " was not paused") << '\n';
  return 0;
}

namespace {

// A limit option's value as text: an integer from 1 to max, or none for no limit (nullopt).
std::optional<std::string>
limit_or_none(const std::string& option, const std::optional<std::string>& text, int max) {
  if (!text || *text == "none") {
    return std::nullopt;
  }
  try {
    return std::to_string(parse_int(option, *text, 1, max));
  } catch (const UsageError&) {
    throw UsageError(option + " must be an integer from 1 to " + std::to_string(max) +
                     ", or none for no limit, got '" + *text + "'");
  }
}

// A default option's value: an integer from min to max, none, or unset (keep).
std::optional<std::string> default_or_none(const std::string& option,
                                           const std::optional<std::string>& text,
                                           int min,
                                           int max) {
  if (!text || *text == "none") {
    return text;
  }
  try {
    return std::to_string(parse_int(option, *text, min, max));
  } catch (const UsageError&) {
    throw UsageError(option + " must be an integer from " + std::to_string(min) + " to " +
                     std::to_string(max) + ", or none for the built-in default, got '" + *text +
                     "'");
  }
}

// A --rate-period goes with its --rate-limit (the same for the per-key pair), and not with none.
void check_period(const std::string& period_option,
                  const std::optional<std::string>& period,
                  const std::string& limit_option,
                  const std::optional<std::string>& limit) {
  if (period && limit == "none") {
    throw UsageError(period_option + " goes with a " + limit_option + ", not with none");
  }
  if (period && !limit) {
    throw UsageError(period_option + " goes with " + limit_option);
  }
  if (period == "none") {
    throw UsageError(period_option + " takes an interval such as '1 minute'; " + limit_option +
                     " none removes the limit");
  }
}

} // namespace

int workers(const std::string& dsn,
            const std::optional<std::string>& queue,
            bool json,
            std::ostream& out) {
  if (queue) {
    check_name("--queue", *queue);
  }
  db::Connection connection = connect(dsn);
  const db::Result rows =
      connection.run(db::queries::k_live_workers, {queue ? db::Param(*queue) : std::nullopt});
  if (json) {
    print_json_array(rows,
                     {{"worker", 0, JsonKind::text},
                      {"queue", 1, JsonKind::text},
                      {"host", 2, JsonKind::optional_text},
                      {"pid", 3, JsonKind::number},
                      {"version", 4, JsonKind::optional_text},
                      {"concurrency", 5, JsonKind::number},
                      {"isolation", 6, JsonKind::optional_text},
                      {"running", 7, JsonKind::number},
                      {"seen_seconds_ago", 8, JsonKind::number},
                      {"started_at", 9, JsonKind::optional_text}},
                     out);
    return 0;
  }
  print_table({"worker",
               "queue",
               "host",
               "pid",
               "version",
               "concurrency",
               "isolation",
               "running",
               "seen s ago",
               "started"},
              rows,
              out);
  return 0;
}

int queue(const std::string& dsn, const QueueOptions& options, std::ostream& out) {
  check_name("queue", options.queue);
  const std::optional<std::string> limit =
      limit_or_none("--global-concurrency", options.global_concurrency, 100000);
  const std::optional<std::string> rate =
      limit_or_none("--rate-limit", options.rate_limit, 1000000);
  const std::optional<std::string> key_limit =
      limit_or_none("--key-concurrency", options.key_concurrency, 100000);
  const std::optional<std::string> key_rate =
      limit_or_none("--key-rate-limit", options.key_rate_limit, 1000000);
  const std::optional<std::string> default_priority =
      default_or_none("--default-priority", options.default_priority, -32768, 32767);
  const std::optional<std::string> default_attempts =
      default_or_none("--default-max-attempts", options.default_max_attempts, 1, 1000);
  // KEY=WEIGHT, split at the last '=' (a key may hold one); the key is the database's to check.
  std::vector<std::pair<std::string, std::optional<std::string>>> weights;
  for (const std::string& entry : options.key_weights) {
    const std::size_t at = entry.rfind('=');
    const std::string weight = at == std::string::npos ? std::string() : entry.substr(at + 1);
    if (at == std::string::npos || at == 0) {
      throw UsageError(
          "--key-weight must be KEY=WEIGHT (1 to 1000) or KEY=default (or none), got '" + entry +
          "'");
    }
    const std::string key = entry.substr(0, at);
    if (weight == "default" || weight == "none") {
      weights.emplace_back(key, std::nullopt);
      continue;
    }
    try {
      weights.emplace_back(key, std::to_string(parse_int("--key-weight", weight, 1, 1000)));
    } catch (const UsageError&) {
      throw UsageError("--key-weight " + key +
                       ": the weight must be an integer from 1 to 1000, or default for 1, got '" +
                       weight + "'");
    }
  }
  check_period("--rate-period", options.rate_period, "--rate-limit", options.rate_limit);
  check_period(
      "--key-rate-period", options.key_rate_period, "--key-rate-limit", options.key_rate_limit);
  db::Connection connection = connect(dsn);
  // All or nothing: a value the database refuses (--default-timeout, --rate-period) leaves
  // the queue as it was, whatever came before it. An error ends the process, and with it the
  // transaction.
  connection.run_script("BEGIN");
  if (options.reset) {
    connection.run(db::queries::k_reset_queue, {options.queue});
  }
  if (options.global_concurrency) {
    connection.run(db::queries::k_set_global_concurrency,
                   {options.queue, limit ? db::Param(*limit) : std::nullopt});
  }
  if (options.key_concurrency) {
    connection.run(db::queries::k_set_key_concurrency,
                   {options.queue, key_limit ? db::Param(*key_limit) : std::nullopt});
  }
  for (const auto& [key, weight] : weights) {
    connection.run(db::queries::k_set_key_weight,
                   {options.queue, key, weight ? db::Param(*weight) : std::nullopt});
  }
  if (default_priority || default_attempts || options.default_timeout) {
    // The defaults not given are read back and written again: the queue's row is locked
    // first, so that another change committed meanwhile is not written over.
    connection.run(db::queries::k_lock_queue_settings, {options.queue});
    // --default-timeout is checked by pgtq.set_task_defaults, whose error names it.
    connection.run(db::queries::k_set_task_defaults,
                   {options.queue,
                    default_priority ? db::Param(*default_priority) : std::nullopt,
                    default_attempts ? db::Param(*default_attempts) : std::nullopt,
                    options.default_timeout ? db::Param(*options.default_timeout) : std::nullopt});
  }
  if (options.rate_limit) {
    // --rate-period is checked by pgtq.set_rate_limit, whose error names it ("per").
    connection.run(db::queries::k_set_rate_limit,
                   {options.queue,
                    rate ? db::Param(*rate) : std::nullopt,
                    options.rate_period ? db::Param(*options.rate_period) : std::nullopt});
  }
  if (options.key_rate_limit) {
    // --key-rate-period is checked by pgtq.set_key_rate_limit, whose error names it ("per").
    connection.run(db::queries::k_set_key_rate_limit,
                   {options.queue,
                    key_rate ? db::Param(*key_rate) : std::nullopt,
                    options.key_rate_period ? db::Param(*options.key_rate_period) : std::nullopt});
  }
  const db::Result settings = connection.run(db::queries::k_queue_settings, {options.queue});
  const db::Result key_weights = connection.run(db::queries::k_key_weights, {options.queue});
  connection.run_script("COMMIT");
  out << "queue " << options.queue << (settings.text(0, 0) == "t" ? ": paused" : ": not paused")
      << ", global concurrency "
      << (settings.is_null(0, 1) ? std::string("unlimited") : settings.string(0, 1))
      << ", rate limit "
      << (settings.is_null(0, 4) ? std::string("none")
                                 : settings.string(0, 4) + " per " + settings.string(0, 5) + " (" +
                                       settings.string(0, 6) + " started in the last period)")
      << ", per fairness key "
      << (settings.is_null(0, 7) ? std::string("unlimited") : settings.string(0, 7))
      << (settings.is_null(0, 11)
              ? std::string()
              : ", key rate limit " + settings.string(0, 11) + " per " + settings.string(0, 12))
      << (key_weights.is_null(0, 0) ? std::string()
                                    : " (key weights: " + key_weights.string(0, 0) + ")")
      << "; new tasks: priority "
      << (settings.is_null(0, 8) ? std::string("0") : settings.string(0, 8)) << ", max attempts "
      << (settings.is_null(0, 9) ? std::string("5") : settings.string(0, 9)) << ", "
      << (settings.is_null(0, 10) ? std::string("no timeout of their own")
                                  : "timeout " + settings.string(0, 10))
      << "; " << settings.string(0, 2) << " running, " << settings.string(0, 3) << " queued\n";
  return 0;
}

} // namespace pgtq::ctl
