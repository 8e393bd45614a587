#include "queue/task.hpp"

namespace pgtq::queue {

ClaimedTask claimed_task(const db::Result& rows, int row) {
  ClaimedTask task;
  task.id = rows.int64(row, 0);
  task.claim = rows.int64(row, 1);
  task.name = rows.string(row, 2);
  task.args = rows.string(row, 3);
  task.attempt = static_cast<std::int32_t>(rows.int64(row, 4));
  task.max_attempts = static_cast<std::int32_t>(rows.int64(row, 5));
  return task;
}

} // namespace pgtq::queue
