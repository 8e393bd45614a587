#include "queue/task.hpp"

#include <charconv>

namespace pgtq::queue {

ClaimedTask claimed_task(const db::Result& rows, int row) {
  ClaimedTask task;
  task.id = rows.int64(row, 0);
  task.claim = rows.int64(row, 1);
  task.name = rows.string(row, 2);
  task.args = rows.string(row, 3);
  task.attempt = static_cast<std::int32_t>(rows.int64(row, 4));
  task.max_attempts = static_cast<std::int32_t>(rows.int64(row, 5));
  if (const std::optional<std::string> timeout = rows.optional_string(row, 6)) {
    // float8 text from the server: plain decimal or exponent notation, never localised.
    double seconds = 0;
    const auto [end, error] =
        std::from_chars(timeout->data(), timeout->data() + timeout->size(), seconds);
    if (error == std::errc{} && end == timeout->data() + timeout->size() && seconds > 0) {
      task.timeout_s = seconds;
    }
  }
  task.parents = rows.optional_string(row, 7);
  task.checkpoint = rows.optional_string(row, 8);
  return task;
}

} // namespace pgtq::queue
