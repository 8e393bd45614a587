#pragma once

#include "queue/task.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace pgtq::queue {

// The six array parameters of pgtq.finish_many(task_ids, task_claims, statuses, results,
// errors, retry_in), as array literals; element i of each is outcome i.
struct OutcomeArrays {
  std::string task_ids;
  std::string task_claims;
  std::string statuses;
  std::string results;  // done: the result as it is (validated as JSON when the handler set it)
  std::string errors;   // retry, fail: the error, made storable; NULL otherwise
  std::string retry_in; // retry, snooze: seconds, clamped to what the database stores
};
OutcomeArrays encode_outcomes(const std::vector<Outcome>& outcomes);

// Error text as PostgreSQL will store it: invalid UTF-8 sequences become U+FFFD and NUL
// becomes a space (jsonb and text refuse both).
std::string storable_text(std::string_view text);

} // namespace pgtq::queue
