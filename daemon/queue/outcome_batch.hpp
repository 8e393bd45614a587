#pragma once

#include "queue/task.hpp"

#include <string>
#include <string_view>
#include <vector>

namespace pgtq::queue {

// The nine array parameters of pgtq.finish_many(task_ids, task_claims, statuses, results,
// errors, retry_in, progress, checkpoints, followups), as array literals; element i of each
// is outcome i. The last three are NULL (no array) when no outcome has any.
struct OutcomeArrays {
  std::string task_ids;
  std::string task_claims;
  std::string statuses;
  std::string results;  // done: the result as it is (validated as JSON when the handler set it)
  std::string errors;   // retry, fail: the error, made storable; NULL otherwise
  std::string retry_in; // retry, snooze: seconds, clamped to what the database stores
  std::optional<std::string> progress;    // what the handler reported last; NULL: unchanged
  std::optional<std::string> checkpoints; // the same for its checkpoint
  std::optional<std::string> followups;   // done: a JSON array of its follow-ups; else NULL
};
OutcomeArrays encode_outcomes(const std::vector<Outcome>& outcomes);

// The array literal of one optional JSON text per outcome, or nothing when every one is unset.
std::optional<std::string>
optional_json_array(const std::vector<std::optional<std::string>>& values);

// Error text as PostgreSQL will store it: invalid UTF-8 sequences become U+FFFD and NUL
// becomes a space (jsonb and text refuse both).
std::string storable_text(std::string_view text);

} // namespace pgtq::queue
