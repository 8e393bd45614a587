#pragma once

// Pushing tasks: thin wrappers over pgtq.push and pgtq.push_many (sql/schema/03_push.sql).

#include "pgtq/client/error.hpp"
#include "pgtq/client/json.hpp"
#include "pgtq/client/pg_array.hpp"
#include "pgtq/client/statement.hpp"

#include <libpq-fe.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace pgtq {

// What a unique push does when a task of the queue holds its key (pgtq.push's on_conflict).
enum class OnConflict {
  ignore,  // return the holder's id
  replace, // a queued or scheduled holder takes this push's task name, args, priority,
           // run_at, max_attempts, timeout, fairness key, tags and metadata, and its id is
           // returned; otherwise as ignore
  raise,   // throw pgtq::Error 23505 naming the holder
};

// A unique key for a push (sql/schema/12_unique.sql): at most one task of the queue with this
// key counts at a time. Every live task (queued, scheduled or running) counts; so does a
// finished one in a finished state of `states` that ended within `period`. states: task state
// names, empty for the server's default (the live states, plus "succeeded" when a period is
// given); when given, it must include "queued", "scheduled" and "running". period: more than 0,
// at most 100 years (unset: a finished task counts as long as the history keeps it). key: 1..1024
// bytes. A state name that is none of the six is refused before sending (22023); the server
// checks the rest (22023).
struct Unique {
  std::string key;
  std::vector<std::string> states = {};
  std::optional<Delay> period = std::nullopt;
  OnConflict on_conflict = OnConflict::ignore;
};

// Unset fields keep the server's defaults: run now; the queue's defaults for priority, max
// attempts and timeout (set_task_defaults), else priority 0, 5 attempts, no timeout of its own.
// run_at and delay add up (run_at defaults to now). A task whose start lies in the future is
// "scheduled" until then, otherwise "queued". delay: 0 to 100 years; a time_point run_at (plus
// delay): within 100 years of now. timeout: how long each attempt may run, more than 0 and at most
// 365 days (microseconds are kept); it replaces, even when longer, the task name's timeout (its
// plugin's) and pgtqd's task-timeout. Outside these, push() throws pgtq::Error 22023 before sending
// anything. unique: see Unique; push() then returns the id of the task that holds the key, if one
// does. fairness_key: 1..1024 bytes (a tenant, a customer): claims of the queue take turns between
// keys, and the queue's key concurrency limit (set_key_concurrency) caps each key's running
// tasks (sql/schema/16_fairness.sql). tags: at most 32, each 1..128 characters; metadata: a
// JSON object of at most 64 KiB (the server refuses others: 22023, 54000). A NUL byte in a
// key or tag is refused before sending (22023).
enum class OnParentFailure { cancel, run };

struct PushOptions {
  // The initialisers keep -Wmissing-field-initializers quiet for {.delay = …} forms.
  std::optional<Timestamp> run_at = std::nullopt;
  std::optional<Delay> delay = std::nullopt;
  std::optional<int> priority = std::nullopt;     // -32768..32767, smaller runs first
  std::optional<int> max_attempts = std::nullopt; // 1..1000
  std::optional<Delay> timeout = std::nullopt;    // e.g. std::chrono::minutes(5)
  std::optional<Unique> unique = std::nullopt;
  std::optional<std::string> fairness_key = std::nullopt;
  // Labels to find the task by (pgtq.tasks' tags; at most 32, each 1..128 characters);
  // stored distinct and sorted. Empty: none.
  std::vector<std::string> tags = {};
  // A JSON object about the task for whoever looks at it later (at most 64 KiB); the handler
  // does not receive it. Unset: none.
  std::optional<JsonText> metadata = std::nullopt;
  // The tasks this one waits for (README "Dependencies"): it stays pending until they have all
  // ended, then runs; at most 10,000 ids, each of a task that exists (23503 otherwise).
  // Empty: none.
  std::vector<std::int64_t> depends_on = {};
  // When one of them fails for good, is cancelled or deleted: cancel this task too, or run it
  // once they have all ended (a fan-in). Only with depends_on.
  OnParentFailure on_parent_failure = OnParentFailure::cancel;
};

// One task of a push_many. args is the task's arguments: pgtq::args(values...) for an array
// of C++ values, pgtq::to_json(value) for one value (an object from a map), pgtq::json(text)
// for JSON text written by hand (checked to be one JSON value). Plain strings do not convert:
// whether a string is the args document or an argument has to be spelled out.
struct TaskSpec {
  std::string task;
  JsonText args = pgtq::args();
  PushOptions options = {};
};

namespace detail {

// The task states, in pgtq.task_state's order; a state name is one of these, case included.
inline constexpr std::string_view k_task_states[] = {
    "pending", "queued", "scheduled", "running", "succeeded", "failed", "cancelled"};

inline bool is_task_state(std::string_view name) {
  return std::find(std::begin(k_task_states), std::end(k_task_states), name) !=
         std::end(k_task_states);
}

// succeeded, failed or cancelled: the states of the history.
inline bool is_end_state(std::string_view name) {
  return std::find(std::begin(k_task_states) + 4, std::end(k_task_states), name) !=
         std::end(k_task_states);
}

// The args forms that are the args document itself rather than one argument of it.
template <class T>
inline constexpr bool k_is_raw_args = std::is_same_v<T, JsonText> || std::is_same_v<T, Json>;

template <class... T> struct IsRawArgsCall : std::false_type {};
template <class T> struct IsRawArgsCall<T> : std::bool_constant<k_is_raw_args<T>> {};
template <class T> struct IsRawArgsCall<T, PushOptions> : std::bool_constant<k_is_raw_args<T>> {};

inline std::vector<std::string> sorted(std::vector<std::string> names) {
  std::sort(names.begin(), names.end());
  return names;
}

// Refuses, before anything is sent, a delay outside [0, 100 years] and a time_point run_at
// (alone or with the delay added) more than 100 years from now: the server would refuse them
// too (SQLSTATE 22023), or store a time nothing waits for. `what` starts the message.
inline void check_options(const PushOptions& options, const std::string& what) {
  if (options.delay) {
    const Delay& delay = *options.delay;
    std::string given;
    if (delay.microseconds()) {
      given = seconds_text(*delay.microseconds());
    } else {
      char text[32];
      std::snprintf(text, sizeof text, "%g s", delay.seconds());
      given = text;
    }
    if (delay.seconds() != delay.seconds()) {
      throw Error("22023", what + ": delay is NaN");
    }
    if (delay.seconds() < 0) {
      throw Error("22023", what + ": delay must not be negative, got " + given);
    }
    if (!delay.microseconds() || *delay.microseconds() > k_max_delay) {
      throw Error("22023",
                  what + ": delay must be at most 100 years (" + seconds_text(k_max_delay) +
                      "), got " + given);
    }
  }
  if (options.timeout) {
    const Delay& timeout = *options.timeout;
    const std::chrono::microseconds max_timeout = std::chrono::hours(24 * 365);
    if (!timeout.microseconds() || *timeout.microseconds() <= std::chrono::microseconds::zero() ||
        *timeout.microseconds() > max_timeout) {
      char given[32];
      std::snprintf(given, sizeof given, "%g s", timeout.seconds());
      throw Error("22023",
                  what + ": timeout must be more than 0 and at most 365 days, got " + given);
    }
  }
  if (options.fairness_key && options.fairness_key->find('\0') != std::string::npos) {
    throw Error("22023", what + ": the fairness key contains a NUL byte");
  }
  for (std::size_t i = 0; i < options.tags.size(); ++i) {
    if (options.tags[i].find('\0') != std::string::npos) {
      throw Error("22023", what + ": tag " + std::to_string(i + 1) + " contains a NUL byte");
    }
  }
  if (options.unique) {
    if (options.unique->key.find('\0') != std::string::npos) {
      throw Error("22023", what + ": the unique key contains a NUL byte");
    }
    for (const std::string& state : options.unique->states) {
      if (!is_task_state(state)) {
        throw Error("22023",
                    what + ": unique states: \"" + state +
                        "\" is not a task state (pending, queued, scheduled, running, "
                        "succeeded, failed, cancelled)");
      }
    }
  }
  if (options.run_at && options.run_at->since_epoch_s()) {
    const double now_s =
        std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
    const double max_s = std::chrono::duration<double>(k_max_delay).count();
    const double run_at_s = *options.run_at->since_epoch_s();
    if (!(run_at_s >= now_s - max_s && run_at_s <= now_s + max_s)) {
      throw Error("22023",
                  what + ": run_at " + options.run_at->text() + " is more than 100 years from now");
    }
    if (options.delay && run_at_s + options.delay->seconds() > now_s + max_s) {
      throw Error("22023",
                  what + ": run_at " + options.run_at->text() + " plus delay " +
                      seconds_text(*options.delay->microseconds()) +
                      " is more than 100 years from now");
    }
  }
}

inline const char* on_conflict_text(OnConflict on_conflict) {
  switch (on_conflict) {
  case OnConflict::replace:
    return "replace";
  case OnConflict::raise:
    return "raise";
  case OnConflict::ignore:
    break;
  }
  return "ignore";
}

// unique.states as a text[] literal; NULL (the server's default) when empty.
inline Param unique_states_literal(const Unique& unique) {
  return unique.states.empty() ? Param() : Param(pg_text_array(unique.states));
}

inline Param unique_period_text(const Unique& unique, const std::string& what) {
  if (!unique.period) {
    return std::nullopt;
  }
  if (!unique.period->microseconds()) {
    throw Error("22023", what + ": unique period must be a finite number of seconds");
  }
  return interval_text(*unique.period->microseconds());
}

// The pgtq.push call for these options, and its parameters. Named arguments for the options
// given only, so that the server's defaults stay the single source of truth for the others.
// mask: which options are present (1 run_at, 2 delay, 4 priority, 8 max_attempts, 16 timeout,
// 32 unique: its four arguments, NULL where unset; 64 fairness_key, 128 tags, 256 metadata,
// 512 depends_on and on_parent_failure), so that calls with the same mask have the same SQL
// text.
inline constexpr unsigned k_push_masks = 1024;

inline const char* on_parent_failure_text(OnParentFailure policy) {
  return policy == OnParentFailure::run ? "run" : "cancel";
}
struct PushStatement {
  std::string sql;
  std::vector<Param> params;
  unsigned mask = 0;
};

inline PushStatement push_statement(std::string_view queue,
                                    std::string_view task,
                                    std::string_view args_json,
                                    const PushOptions& options) {
  check_options(options, "pgtq.push");
  PushStatement statement{"SELECT pgtq.push(queue => $1::text, task => $2::text, args => $3::jsonb",
                          {std::string(queue), std::string(task), std::string(args_json)}};
  const auto add = [&](unsigned bit, const char* name, const char* type, Param value) {
    statement.params.emplace_back(std::move(value));
    statement.sql +=
        std::string(", ") + name + " => $" + std::to_string(statement.params.size()) + "::" + type;
    statement.mask |= bit;
  };
  if (options.run_at) {
    add(1, "run_at", "timestamptz", options.run_at->text());
  }
  if (options.delay) {
    add(2, "delay", "interval", interval_text(*options.delay->microseconds()));
  }
  if (options.priority) {
    add(4, "priority", "integer", std::to_string(*options.priority));
  }
  if (options.max_attempts) {
    add(8, "max_attempts", "integer", std::to_string(*options.max_attempts));
  }
  if (options.timeout) {
    add(16, "timeout", "interval", interval_text(*options.timeout->microseconds()));
  }
  if (options.unique) {
    const Unique& unique = *options.unique;
    add(32, "unique_key", "text", unique.key);
    add(32, "unique_states", "pgtq.task_state[]", unique_states_literal(unique));
    add(32, "unique_period", "interval", unique_period_text(unique, "pgtq.push"));
    add(32, "on_conflict", "text", std::string(on_conflict_text(unique.on_conflict)));
  }
  if (options.fairness_key) {
    add(64, "fairness_key", "text", *options.fairness_key);
  }
  if (!options.tags.empty()) {
    add(128, "tags", "text[]", pg_text_array(options.tags));
  }
  if (options.metadata) {
    add(256, "metadata", "jsonb", options.metadata->text());
  }
  if (!options.depends_on.empty()) {
    add(512, "depends_on", "bigint[]", pg_integer_array(options.depends_on));
    add(512,
        "on_parent_failure",
        "text",
        std::string(on_parent_failure_text(options.on_parent_failure)));
  }
  statement.sql += ')';
  return statement;
}

inline std::int64_t push_text(PGconn* conn,
                              std::string_view queue,
                              std::string_view task,
                              std::string_view args_json,
                              const PushOptions& options) {
  const PushStatement statement = push_statement(queue, task, args_json, options);
  const ResultPtr result = exec(conn, "pgtq.push", statement.sql, statement.params);
  return int64_at(result.get(), 0, 0);
}

} // namespace detail

// Pushes one task and returns its id. Runs on the caller's connection and inside the caller's
// transaction: nothing is visible, and no worker is woken, until that transaction commits.
// Throws pgtq::Error: before sending, for a delay or run_at out of range (22023); after, with
// the server's SQLSTATE and message.
//
// The args are either the C++ values after the task name, encoded as a JSON array with one
// element per value (every string is one string element), or one explicit JSON document:
//   push(conn, q, t)                                args []
//   push(conn, q, t, 2, 3)                          args [2,3]
//   push(conn, q, t, "hello world")                 args ["hello world"]
//   push(conn, q, t, user_input)                    args ["<the text, whatever it holds>"]
//   push(conn, q, t, pgtq::json(R"({"id":42})"))    args {"id":42}   (JSON text, checked)
//   push(conn, q, t, pgtq::to_json(a_map))          args {...}       (an object from a map)
//   push(conn, q, t, pgtq::args(2, 3), options)     args [2,3], with options
// Options go with no args or an explicit document: push(conn, q, t, {.delay = 1h}) or
// push(conn, q, t, pgtq::args(values...), options).
inline std::int64_t
push(PGconn* conn, std::string_view queue, std::string_view task, const PushOptions& options = {}) {
  return detail::push_text(conn, queue, task, "[]", options);
}

inline std::int64_t push(PGconn* conn,
                         std::string_view queue,
                         std::string_view task,
                         const JsonText& args,
                         const PushOptions& options = {}) {
  return detail::push_text(conn, queue, task, args.text(), options);
}

// plugin.hpp's pgtq::Json, for a plugin that pushes follow-up tasks (a template only because
// that type is complete only where plugin.hpp is included). The server checks its text.
template <class PluginJson, std::enable_if_t<std::is_same_v<PluginJson, Json>, int> = 0>
std::int64_t push(PGconn* conn,
                  std::string_view queue,
                  std::string_view task,
                  const PluginJson& args,
                  const PushOptions& options = {}) {
  return detail::push_text(conn, queue, task, args.text(), options);
}

// The typed form: every argument after the task name is one element of the args array.
template <class First,
          class... Rest,
          std::enable_if_t<!detail::IsRawArgsCall<First, Rest...>::value, int> = 0>
std::int64_t push(PGconn* conn,
                  std::string_view queue,
                  std::string_view task,
                  const First& first,
                  const Rest&... rest) {
  static_assert(!std::is_same_v<First, PushOptions> && !(std::is_same_v<Rest, PushOptions> || ...),
                "pgtq: to give options with typed arguments, write "
                "pgtq::push(conn, queue, task, pgtq::args(values...), options)");
  return detail::push_text(conn, queue, task, args(first, rest...).text(), {});
}

// Pushes many tasks of one queue in one round trip and returns their ids in the order of
// tasks. All or nothing: one bad task refuses the whole call (options are checked as for
// push() before anything is sent, naming the task by its position from 1). Like push, it
// joins the caller's transaction. Sent as arrays (pgtq.push_many(queue, tasks[], args[], …)),
// with only the option arrays some task uses. Tasks with a unique key: each gets the holder's
// id on a conflict (a later task with the key of an earlier one of the call gets that one's);
// their states, period and on_conflict must be the same in one call (22023 otherwise), and the
// server pushes such a call one task at a time.
inline std::vector<std::int64_t>
push_many(PGconn* conn, std::string_view queue, const std::vector<TaskSpec>& tasks) {
  if (tasks.empty()) {
    return {};
  }
  std::string names = "{";
  std::string args = "{";
  // The option arrays, one element per task (NULL where a task keeps the default).
  struct Column {
    const char* name;
    const char* type;
    std::string elements = "{";
    bool used = false;
  };
  Column run_at{"run_at", "timestamptz[]"};
  Column delays{"delays", "interval[]"};
  Column priorities{"priorities", "integer[]"};
  Column max_attempts{"max_attempts", "integer[]"};
  Column timeouts{"timeouts", "interval[]"};
  Column unique_keys{"unique_keys", "text[]"};
  Column fairness_keys{"fairness_keys", "text[]"};
  Column tags{"tags", "jsonb[]"};
  Column metadata{"metadata", "jsonb[]"};
  Column depends_on{"depends_on", "jsonb[]"};
  Column on_parent_failure{"on_parent_failure", "text[]"};
  // One call takes one set of unique options, for every task with a key: the first's.
  const Unique* unique = nullptr;
  for (std::size_t i = 0; i < tasks.size(); ++i) {
    const TaskSpec& spec = tasks[i];
    const PushOptions& options = spec.options;
    const std::string what = "pgtq.push_many: task " + std::to_string(i + 1);
    detail::check_options(options, what);
    if (spec.task.find('\0') != std::string::npos) {
      throw Error("22023", what + ": the task name contains a NUL byte");
    }
    const char* separator = i == 0 ? "" : ",";
    names += separator;
    detail::pg_array_append_quoted(names, spec.task);
    // A JsonText is one JSON value: no NUL byte can be in it (JSON escapes it).
    args += separator;
    detail::pg_array_append_quoted(args, spec.args.text());
    const auto put = [&](Column& column, const std::optional<std::string>& value) {
      column.elements += separator;
      if (value) {
        detail::pg_array_append_quoted(column.elements, *value);
        column.used = true;
      } else {
        column.elements += "NULL";
      }
    };
    put(run_at, options.run_at ? std::optional(options.run_at->text()) : std::nullopt);
    put(delays,
        options.delay ? std::optional(detail::interval_text(*options.delay->microseconds()))
                      : std::nullopt);
    put(priorities,
        options.priority ? std::optional(std::to_string(*options.priority)) : std::nullopt);
    put(max_attempts,
        options.max_attempts ? std::optional(std::to_string(*options.max_attempts)) : std::nullopt);
    put(timeouts,
        options.timeout ? std::optional(detail::interval_text(*options.timeout->microseconds()))
                        : std::nullopt);
    put(unique_keys, options.unique ? std::optional(options.unique->key) : std::nullopt);
    put(fairness_keys, options.fairness_key);
    put(tags, options.tags.empty() ? std::nullopt : std::optional(to_json(options.tags).text()));
    put(metadata, options.metadata ? std::optional(options.metadata->text()) : std::nullopt);
    put(depends_on,
        options.depends_on.empty() ? std::nullopt
                                   : std::optional(to_json(options.depends_on).text()));
    put(on_parent_failure,
        options.depends_on.empty() ? std::nullopt
                                   : std::optional(std::string(detail::on_parent_failure_text(
                                         options.on_parent_failure))));
    if (options.unique) {
      if (!unique) {
        unique = &*options.unique;
      } else if (detail::sorted(options.unique->states) != detail::sorted(unique->states) ||
                 detail::unique_period_text(*options.unique, what) !=
                     detail::unique_period_text(*unique, what) ||
                 options.unique->on_conflict != unique->on_conflict) {
        throw Error("22023",
                    what + ": unique states, period and on_conflict must be the same for every "
                           "task of one push_many");
      }
    }
  }
  std::string sql = "SELECT pgtq.push_many($1::text, $2::text[], $3::jsonb[]";
  std::vector<detail::Param> params{std::string(queue), names + '}', args + '}'};
  const auto add = [&](const char* name, const char* type, detail::Param value) {
    params.emplace_back(std::move(value));
    sql += std::string(", ") + name + " => $" + std::to_string(params.size()) + "::" + type;
  };
  for (Column* column : {&run_at,
                         &delays,
                         &priorities,
                         &max_attempts,
                         &timeouts,
                         &unique_keys,
                         &fairness_keys,
                         &tags,
                         &metadata,
                         &depends_on,
                         &on_parent_failure}) {
    if (column->used) {
      add(column->name, column->type, column->elements + '}');
    }
  }
  if (unique) {
    add("unique_states", "pgtq.task_state[]", detail::unique_states_literal(*unique));
    add("unique_period", "interval", detail::unique_period_text(*unique, "pgtq.push_many"));
    add("on_conflict", "text", std::string(detail::on_conflict_text(unique->on_conflict)));
  }
  sql += ')';
  const detail::ResultPtr result = detail::exec(conn, "pgtq.push_many", sql, params);
  std::vector<std::int64_t> ids;
  ids.reserve(tasks.size());
  for (int row = 0; row < PQntuples(result.get()); ++row) {
    ids.push_back(detail::int64_at(result.get(), row, 0));
  }
  return ids;
}

} // namespace pgtq
