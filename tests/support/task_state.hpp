#pragma once

#include "support/daemon_process.hpp"
#include "support/sql.hpp"

#include <string>

namespace pgtq::test {

// One column or expression of one task in pgtq.tasks, as text ("" when there is no task).
inline std::string field(db::Connection& connection, const std::string& expression,
                         const std::string& id) {
  return scalar(connection, "SELECT (" + expression + ")::text FROM pgtq.tasks WHERE id = $1",
                {id});
}

// Waits until the task is in this state; returns whether it got there.
inline bool reaches(db::Connection& connection, const std::string& id, const std::string& state,
                    std::chrono::milliseconds timeout = 30s) {
  return eventually([&] { return field(connection, "state", id) == state; }, timeout);
}

} // namespace pgtq::test
