#include "web/actions.hpp"

#include "ctl/arguments.hpp"
#include "db/queries.hpp"
#include "http/http_server.hpp"

namespace pgtq::web {
namespace {

const std::string& field(const std::map<std::string, std::string>& fields,
                         const std::string& name) {
  return http::HttpRequest::get(fields, name);
}

std::string said(bool changed, const std::string& what, const std::string& done) {
  return what + (changed ? " " + done : " was not " + done + " (it is not in a state for it)");
}

} // namespace

ActionOutcome run_action(db::Connection& connection,
                         const std::string& action,
                         const std::map<std::string, std::string>& fields) {
  const auto task_action = [&](const db::Query& query, const std::string& done) {
    const std::string id = std::to_string(ctl::parse_task_id(field(fields, "id")));
    const db::Result result = connection.run(query, {id});
    return ActionOutcome{.message = said(result.text(0, 0) == "t", "task " + id, done)};
  };
  const auto queue_action = [&](const db::Query& query, const std::string& done) {
    const std::string& queue = field(fields, "queue");
    ctl::check_name("queue", queue);
    const db::Result result = connection.run(query, {queue});
    return ActionOutcome{.message = said(result.text(0, 0) == "t", "queue " + queue, done)};
  };
  if (action == "retry") {
    return task_action(db::queries::k_retry, "retried");
  }
  if (action == "cancel") {
    return task_action(db::queries::k_cancel, "cancelled");
  }
  if (action == "delete") {
    return task_action(db::queries::k_delete, "deleted");
  }
  if (action == "pause") {
    return queue_action(db::queries::k_pause, "paused");
  }
  if (action == "resume") {
    return queue_action(db::queries::k_resume, "resumed");
  }
  if (action == "retry-group") { // the failed tasks like this one (web/failures_page.cpp)
    const std::string id = std::to_string(ctl::parse_task_id(field(fields, "id")));
    const db::Result result = connection.run(db::queries::k_web_retry_group, {id});
    return {.message = result.string(0, 0) + " failed task(s) like task " + id + " retried"};
  }
  return {.known = false, .message = "no such action"};
}

} // namespace pgtq::web
