#pragma once

#include "support/daemon_process.hpp"
#include "support/sql.hpp"

#include <cstdint>
#include <stdexcept>
#include <string>

namespace pgtq::test {

// One column or expression of one task in pgtq.tasks, as text ("" when there is no task).
inline std::string
field(db::Connection& connection, const std::string& expression, const std::string& id) {
  return scalar(
      connection, "SELECT (" + expression + ")::text FROM pgtq.tasks WHERE id = $1", {id});
}

// The same for a task known to exist (the test fails if it does not), with SQL NULL read
// as "<null>" so that it cannot pass for an empty string.
inline std::string
field(db::Connection& connection, std::int64_t id, const std::string& expression) {
  const db::Result row =
      query(connection,
            "SELECT (" + expression + ")::text FROM pgtq.tasks WHERE id = $1::bigint",
            {std::to_string(id)});
  if (row.rows() != 1) {
    throw std::runtime_error("task " + std::to_string(id) + " not found in pgtq.tasks");
  }
  return row.is_null(0, 0) ? "<null>" : row.string(0, 0);
}

// Pushes one task onto queue "default" (the queue a test's pgtqd works); returns its id.
inline std::string push_to_default(db::Connection& connection,
                                   const std::string& task,
                                   const std::string& args,
                                   const std::string& max_attempts = "5") {
  return scalar(connection,
                "SELECT pgtq.push('default', $1, $2::jsonb, max_attempts => $3::int)",
                {task, args, max_attempts});
}

// How many of queue's tasks are running (claimed and not finished: a prefetched task counts).
inline long long running(db::Connection& connection, const std::string& queue) {
  return count(connection,
               "SELECT count(*) FROM pgtq.live_tasks WHERE queue = $1 AND state = 'running'",
               {queue});
}

// Waits until the task is in this state; returns whether it got there.
inline bool reaches(db::Connection& connection,
                    const std::string& id,
                    const std::string& state,
                    std::chrono::milliseconds timeout = 30s) {
  return eventually([&] { return field(connection, "state", id) == state; }, timeout);
}

} // namespace pgtq::test
