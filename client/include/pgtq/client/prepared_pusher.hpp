#pragma once

// Pushing through server-side prepared statements: the same pgtq.push call as push(), parsed
// and planned once per connection instead of on every call (6-24 % more pushes per second
// in docs/benchmarks.md).

#include "pgtq/client/error.hpp"
#include "pgtq/client/json.hpp"
#include "pgtq/client/push.hpp"
#include "pgtq/client/statement.hpp"

#include <libpq-fe.h>

#include <bitset>
#include <cstdint>
#include <string>
#include <string_view>
#include <type_traits>

namespace pgtq {

// Pushes tasks on one connection through statements it prepares there the first time each
// shape of call (which options are given) is used. Like push(), every call joins the
// caller's transaction and commits or rolls back with it, and the args take the same forms:
//
//   pgtq::PreparedPusher pusher(conn);                  // no round trip yet
//   pusher.push("emails", "send_welcome", pgtq::json(R"({"user_id":42})"));
//   pusher.push("math", "add_numbers", 2, 3);           // args [2,3]
//   pusher.push("math", "add_numbers", pgtq::args(2, 3), {.priority = -1});
//
// The statements are named pgtq_push_v1_<n> and stay on the connection for its lifetime, so
// any number of pushers may come and go on one connection (each looks the statement up in
// pg_prepared_statements once before preparing it: preparing an existing name would be an
// error, which would abort the caller's transaction). Not for connections behind a pooler
// in transaction mode that cannot carry prepared statements (pgbouncer before 1.21), nor
// for applications that run DEALLOCATE ALL: use push() there. One pusher is for one thread
// at a time, as its connection is.
class PreparedPusher {
public:
  explicit PreparedPusher(PGconn* conn) : m_conn(conn) {}

  // As push(conn, queue, task, options): args [].
  std::int64_t
  push(std::string_view queue, std::string_view task, const PushOptions& options = {}) {
    return push_text(queue, task, "[]", options);
  }

  // As push(conn, queue, task, args, options): the explicit args document.
  std::int64_t push(std::string_view queue,
                    std::string_view task,
                    const JsonText& args,
                    const PushOptions& options = {}) {
    return push_text(queue, task, args.text(), options);
  }

  template <class PluginJson, std::enable_if_t<std::is_same_v<PluginJson, Json>, int> = 0>
  std::int64_t push(std::string_view queue,
                    std::string_view task,
                    const PluginJson& args,
                    const PushOptions& options = {}) {
    return push_text(queue, task, args.text(), options);
  }

  // As push(conn, queue, task, values...): every value one element of the args array.
  template <class First,
            class... Rest,
            std::enable_if_t<!detail::IsRawArgsCall<First, Rest...>::value, int> = 0>
  std::int64_t
  push(std::string_view queue, std::string_view task, const First& first, const Rest&... rest) {
    static_assert(!std::is_same_v<First, PushOptions> &&
                      !(std::is_same_v<Rest, PushOptions> || ...),
                  "pgtq: to give options with typed arguments, write "
                  "pusher.push(queue, task, pgtq::args(values...), options)");
    return push_text(queue, task, args(first, rest...).text(), {});
  }

private:
  std::int64_t push_text(std::string_view queue,
                         std::string_view task,
                         std::string_view args_json,
                         const PushOptions& options) {
    const detail::PushStatement statement = detail::push_statement(queue, task, args_json, options);
    const std::string name = "pgtq_push_v1_" + std::to_string(statement.mask);
    if (!m_ready.test(statement.mask)) {
      prepare(name, statement.sql);
      m_ready.set(statement.mask);
    }
    const detail::ResultPtr result =
        detail::exec_prepared(m_conn, "pgtq.push", name, statement.params);
    return detail::int64_at(result.get(), 0, 0);
  }

  void prepare(const std::string& name, const std::string& sql) {
    const detail::ResultPtr found =
        detail::exec(m_conn,
                     "pgtq.push (prepare)",
                     "SELECT statement FROM pg_catalog.pg_prepared_statements WHERE name = $1",
                     {name});
    if (PQntuples(found.get()) == 1) {
      if (std::string_view(PQgetvalue(found.get(), 0, 0)) != sql) {
        throw Error("42P05",
                    "pgtq.push (prepare): a prepared statement named " + name +
                        " exists on this connection with other SQL");
      }
      return;
    }
    detail::require_connection(m_conn, "pgtq.push (prepare)");
    detail::checked(
        m_conn,
        "pgtq.push (prepare)",
        detail::ResultPtr(PQprepare(m_conn, name.c_str(), sql.c_str(), 0, nullptr), &PQclear));
  }

  PGconn* m_conn;
  std::bitset<detail::k_push_masks> m_ready; // by mask: the statement is known to exist
};

} // namespace pgtq
