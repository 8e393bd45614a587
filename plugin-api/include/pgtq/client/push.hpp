#pragma once

// Pushing tasks: thin wrappers over pgtq.push and pgtq.push_many (sql/migrations/0002_push.sql).

#include "pgtq/client/error.hpp"
#include "pgtq/client/json.hpp"
#include "pgtq/client/statement.hpp"

#include <libpq-fe.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace pgtq {

// Unset fields keep the server's defaults: run now, priority 0, 5 attempts.
// run_at and delay add up (run_at defaults to now). A task whose start lies in the future
// is "scheduled" until then, otherwise "queued".
struct PushOptions {
  // The initialisers keep -Wmissing-field-initializers quiet for {.delay = …} forms.
  std::optional<Timestamp> run_at = std::nullopt;
  std::optional<std::chrono::microseconds> delay = std::nullopt;
  std::optional<int> priority = std::nullopt;     // -32768..32767, smaller runs first
  std::optional<int> max_attempts = std::nullopt; // 1..1000
};

// One task of a push_many. args_json is raw JSON text (an array or an object); write
// pgtq::args(...) or pgtq::to_json(...) there to encode C++ values.
struct TaskSpec {
  std::string task;
  std::string args_json = "[]";
  PushOptions options = {};
};

namespace detail {

template <class T>
inline constexpr bool k_is_raw_args =
    std::is_same_v<T, JsonText> || std::is_same_v<T, Json> ||
    (k_is_text<T> && !std::is_same_v<T, std::nullptr_t>);

template <class... T>
struct IsRawArgsCall : std::false_type {};
template <class T>
struct IsRawArgsCall<T> : std::bool_constant<k_is_raw_args<T>> {};
template <class T>
struct IsRawArgsCall<T, PushOptions> : std::bool_constant<k_is_raw_args<T>> {};

// The pgtq.push call for these options, and its parameters. Named arguments for the options
// given only, so that the server's defaults stay the single source of truth for the others.
// mask: which options are present (1 run_at, 2 delay, 4 priority, 8 max_attempts), so that
// calls with the same mask have the same SQL text.
struct PushStatement {
  std::string sql;
  std::vector<Param> params;
  unsigned mask = 0;
};

inline PushStatement push_statement(std::string_view queue, std::string_view task,
                                    std::string_view args_json, const PushOptions& options) {
  PushStatement statement{"SELECT pgtq.push(queue => $1::text, task => $2::text, args => $3::jsonb",
                          {std::string(queue), std::string(task), std::string(args_json)}};
  const auto add = [&](unsigned bit, const char* name, const char* type, std::string value) {
    statement.params.emplace_back(std::move(value));
    statement.sql += std::string(", ") + name + " => $" +
                     std::to_string(statement.params.size()) + "::" + type;
    statement.mask |= bit;
  };
  if (options.run_at) {
    add(1, "run_at", "timestamptz", options.run_at->text());
  }
  if (options.delay) {
    add(2, "delay", "interval", interval_text(*options.delay));
  }
  if (options.priority) {
    add(4, "priority", "integer", std::to_string(*options.priority));
  }
  if (options.max_attempts) {
    add(8, "max_attempts", "integer", std::to_string(*options.max_attempts));
  }
  statement.sql += ')';
  return statement;
}

} // namespace detail

// Pushes one task and returns its id. args_json is the task's arguments as JSON text: an
// array or an object. Runs on the caller's connection and inside the caller's transaction:
// nothing is visible, and no worker is woken, until that transaction commits.
inline std::int64_t push(PGconn* conn, std::string_view queue, std::string_view task,
                         std::string_view args_json = "[]", const PushOptions& options = {}) {
  const detail::PushStatement statement = detail::push_statement(queue, task, args_json, options);
  const detail::ResultPtr result =
      detail::exec(conn, "pgtq.push", statement.sql, statement.params);
  return detail::int64_at(result.get(), 0, 0);
}

inline std::int64_t push(PGconn* conn, std::string_view queue, std::string_view task,
                         const JsonText& args, const PushOptions& options = {}) {
  return push(conn, queue, task, std::string_view(args.text()), options);
}

// plugin.hpp's pgtq::Json, for a plugin that pushes follow-up tasks (a template only because
// that type is complete only where plugin.hpp is included).
template <class PluginJson, std::enable_if_t<std::is_same_v<PluginJson, Json>, int> = 0>
std::int64_t push(PGconn* conn, std::string_view queue, std::string_view task,
                  const PluginJson& args, const PushOptions& options = {}) {
  return push(conn, queue, task, std::string_view(args.text()), options);
}

// The typed form: pgtq::push(conn, "q", "add_numbers", 2, 3) pushes args [2,3].
// The rule that tells it from the raw form: when the only argument after the task name
// (options aside) is text or pgtq::JsonText (or plugin.hpp's pgtq::Json), it IS the args
// document; otherwise every argument is encoded as one element of a JSON array. So
//   push(conn, q, t, R"({"user_id":42})")   args {"user_id":42}
//   push(conn, q, t, std::string("x"))      args x: not JSON, the server refuses it
//   push(conn, q, t, pgtq::args("x"))       args ["x"]
//   push(conn, q, t, "x", "y")              args ["x","y"]
//   push(conn, q, t, 42)                    args [42]
// Options go with the explicit form: push(conn, q, t, pgtq::args(2, 3), options).
template <class First, class... Rest,
          std::enable_if_t<!detail::IsRawArgsCall<First, Rest...>::value, int> = 0>
std::int64_t push(PGconn* conn, std::string_view queue, std::string_view task,
                  const First& first, const Rest&... rest) {
  static_assert(!std::is_same_v<First, PushOptions> && !(std::is_same_v<Rest, PushOptions> || ...),
                "pgtq: to give options with typed arguments, write "
                "pgtq::push(conn, queue, task, pgtq::args(values...), options)");
  return push(conn, queue, task, args(first, rest...));
}

// Pushes many tasks of one queue in one round trip and returns their ids in the order of
// tasks. All or nothing: one bad task refuses the whole call. Like push, it joins the
// caller's transaction.
inline std::vector<std::int64_t> push_many(PGconn* conn, std::string_view queue,
                                           const std::vector<TaskSpec>& tasks) {
  if (tasks.empty()) {
    return {};
  }
  std::string array = "[";
  for (std::size_t i = 0; i < tasks.size(); ++i) {
    const TaskSpec& spec = tasks[i];
    // Checked here because the text is spliced into the array: anything but one JSON value
    // could end its element early and smuggle in tasks of its own.
    std::size_t error_at = 0;
    if (!detail::is_json_value(spec.args_json, &error_at)) {
      throw Error("22P02", "pgtq.push_many: args of task " + std::to_string(i + 1) +
                               " are not valid JSON (byte " + std::to_string(error_at) + ")");
    }
    array += i == 0 ? "{\"task\":" : ",{\"task\":";
    detail::append_json_string(array, spec.task);
    array += ",\"args\":";
    array += spec.args_json;
    const PushOptions& options = spec.options;
    if (options.run_at) {
      array += ",\"run_at\":";
      detail::append_json_string(array, options.run_at->text());
    }
    if (options.delay) {
      array += ",\"delay\":";
      detail::append_json_string(array, detail::interval_text(*options.delay));
    }
    if (options.priority) {
      array += ",\"priority\":" + std::to_string(*options.priority);
    }
    if (options.max_attempts) {
      array += ",\"max_attempts\":" + std::to_string(*options.max_attempts);
    }
    array += '}';
  }
  array += ']';
  const detail::ResultPtr result =
      detail::exec(conn, "pgtq.push_many", "SELECT pgtq.push_many($1::text, $2::jsonb)",
                   {std::string(queue), std::move(array)});
  std::vector<std::int64_t> ids;
  ids.reserve(tasks.size());
  for (int row = 0; row < PQntuples(result.get()); ++row) {
    ids.push_back(detail::int64_at(result.get(), row, 0));
  }
  return ids;
}

} // namespace pgtq
