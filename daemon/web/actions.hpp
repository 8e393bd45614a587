#pragma once

#include "db/connection.hpp"

#include <map>
#include <string>

namespace pgtq::web {

// What an action did, for the page the browser is sent back to.
struct ActionOutcome {
  bool known = true;   // false: no such action (404)
  std::string message; // "task 42 retried", "task 42 was not retried (...)"
};

// Runs one dashboard action through the SQL function made for it, and nothing else (the
// role pgtq_operator may run these): retry, cancel, delete (field id), pause, resume (field
// queue), retry-group (field id: pgtq.retry of every failed task with the same queue, task
// name and last error as that task, at most 10000). The caller has checked the session, the CSRF
// token and the origin. A bad id throws ctl::UsageError; the database's refusal throws db::PgError.
ActionOutcome run_action(db::Connection& connection,
                         const std::string& action,
                         const std::map<std::string, std::string>& fields);

} // namespace pgtq::web
