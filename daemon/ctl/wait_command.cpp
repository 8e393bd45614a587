// pgtqctl wait: a script pushes a task, then waits for its end and its result.
#include "ctl/arguments.hpp"
#include "ctl/commands.hpp"
#include "ctl/session.hpp"

#include <pgtq/client/waits.hpp>

#include <chrono>

namespace pgtq::ctl {

int wait(const std::string& dsn,
         const std::string& id,
         const std::string& timeout_seconds,
         std::ostream& out) {
  const std::int64_t task_id = parse_task_id(id);
  const int seconds = parse_int("--timeout", timeout_seconds, 0, 86400);
  db::Connection connection = connect(dsn);
  const std::optional<TaskStatus> status =
      wait_for_task(connection.native(), task_id, std::chrono::seconds(seconds));
  if (!status) {
    out << "task " << task_id << ": no such task\n";
    return 1;
  }
  if (!status->ended()) {
    out << "task " << task_id << ": still " << status->state << " after " << seconds << " s\n";
    return 75; // EX_TEMPFAIL: ask again later
  }
  out << "task " << task_id << ": " << status->state << " after " << status->attempts
      << " attempt(s)\n";
  if (status->last_error) {
    out << "last error: " << *status->last_error << '\n';
  }
  if (status->result) {
    out << "result: " << status->result->text() << '\n';
  }
  return status->state == "succeeded" ? 0 : 1;
}

} // namespace pgtq::ctl
