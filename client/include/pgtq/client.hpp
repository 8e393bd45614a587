#pragma once

// The pgtq client: push tasks from an application, and optionally work them yourself.
// Header-only, C++17 or later, libpq its only dependency (link PostgreSQL::PostgreSQL, or
// the pgtq::client CMake target).
//
// Every function takes the application's own PGconn* and runs one parameterised statement
// on it. None of them begins or commits a transaction, so a push made inside the caller's
// transaction commits or rolls back with the caller's own writes; workers are woken only
// when it commits. The connection must be idle (not in pipeline or async mode). Failures
// throw pgtq::Error, which carries the SQLSTATE and the server's message.
//
//   pgtq::push(conn, "math", "add_numbers", 2, 3);                      // args [2,3]
//   pgtq::push(conn, "mail", "send", "hello world");                    // args ["hello world"]
//   pgtq::push(conn, "emails", "send_welcome", pgtq::json(R"({"user_id":42})"));  // JSON text
//   pgtq::push(conn, "math", "add_numbers", pgtq::args(2, 3),
//              {.delay = std::chrono::minutes(5), .priority = -1});
//   pgtq::push_many(conn, "emails", {{"send_welcome", pgtq::json(R"({"user_id":1})")},
//                                    {"send_welcome", pgtq::to_json(std::map<std::string,
//                                    int>{{"user_id", 2}})}});
//
// Many single pushes on one connection: pgtq::PreparedPusher (client/prepared_pusher.hpp)
// makes the same call through statements prepared once per connection. Failed tasks are
// retried, and tasks cancelled or deleted in bulk, with pgtq::retry, retry_all, cancel_all and
// delete_task (client/admin.hpp). Periodic tasks (cron or a fixed interval) are set with
// pgtq::set_schedule (client/schedules.hpp). pgtq::wait_for_task waits for a task to end and
// returns its result (client/waits.hpp).
//
// Args: the values after the task name become a JSON array, one element per value; a string
// is always a string element, never parsed. An args document of your own is explicit:
// pgtq::json(text) (checked to be one JSON value), pgtq::to_json(value), pgtq::args(values...)
// or plugin.hpp's pgtq::Json. (Before this rule a lone string was taken as JSON text; such
// calls now push ["<the text>"], so wrap JSON text in pgtq::json().) See client/push.hpp.
//
//   for (const pgtq::ClaimedTask& task : pgtq::pop(conn, "math", {"add_numbers"}, 10, "me")) {
//     pgtq::complete(conn, task, pgtq::to_json(5));
//   }

#include "pgtq/client/admin.hpp"
#include "pgtq/client/error.hpp"
#include "pgtq/client/json.hpp"
#include "pgtq/client/prepared_pusher.hpp"
#include "pgtq/client/push.hpp"
#include "pgtq/client/schedules.hpp"
#include "pgtq/client/waits.hpp"
#include "pgtq/client/worker.hpp"
