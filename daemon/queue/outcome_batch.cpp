#include "queue/outcome_batch.hpp"

#include "queue/backoff.hpp"

#include <pgtq/client/pg_array.hpp>
#include <pgtq/detail/utf8.hpp>

#include <algorithm>
#include <charconv>
#include <cstdint>

namespace pgtq::queue {

const char* to_string(OutcomeStatus status) {
  switch (status) {
  case OutcomeStatus::done:
    return "done";
  case OutcomeStatus::retry:
    return "retry";
  case OutcomeStatus::fail:
    return "fail";
  case OutcomeStatus::snooze:
    return "snooze";
  }
  return "fail";
}

std::string storable_text(std::string_view text) {
  static constexpr std::string_view k_replacement = "\xEF\xBF\xBD";
  std::string out;
  out.reserve(text.size());
  for (std::size_t pos = 0; pos < text.size();) {
    const std::size_t length = pgtq::detail::utf8_sequence_length(text, pos);
    if (text[pos] == '\0') {
      out += ' ';
      ++pos;
    } else if (length == 0) {
      out += k_replacement; // one per byte that starts no well-formed sequence
      ++pos;
    } else {
      out.append(text.substr(pos, length));
      pos += length;
    }
  }
  return out;
}

OutcomeArrays encode_outcomes(const std::vector<Outcome>& outcomes) {
  OutcomeArrays arrays;
  std::vector<std::int64_t> ids;
  std::vector<std::int64_t> claims;
  std::string* const per_outcome[] = {
      &arrays.statuses, &arrays.results, &arrays.errors, &arrays.retry_in};
  for (std::string* array : per_outcome) {
    array->push_back('{');
  }
  for (const Outcome& outcome : outcomes) {
    ids.push_back(outcome.id);
    claims.push_back(outcome.claim);
    if (ids.size() > 1) {
      for (std::string* array : per_outcome) {
        array->push_back(',');
      }
    }
    arrays.statuses += to_string(outcome.status);
    if (outcome.status == OutcomeStatus::done) {
      pgtq::detail::pg_array_append_quoted(arrays.results, outcome.result);
    } else {
      arrays.results += "NULL";
    }
    if (outcome.status == OutcomeStatus::retry || outcome.status == OutcomeStatus::fail ||
        (outcome.status == OutcomeStatus::snooze && !outcome.error.empty())) {
      pgtq::detail::pg_array_append_quoted(arrays.errors, storable_text(outcome.error));
    } else {
      arrays.errors += "NULL";
    }
    if (outcome.status == OutcomeStatus::retry || outcome.status == OutcomeStatus::snooze) {
      // Clamped here, the one place every delay passes through (a plugin's retry delay, a
      // snooze, the backoff): beyond 100 years the database cannot store the time.
      char text[32];
      const auto written =
          std::to_chars(text, text + sizeof text, storable_delay(outcome.retry_in_s));
      arrays.retry_in.append(text, written.ptr);
    } else {
      arrays.retry_in += "NULL";
    }
  }
  for (std::string* array : per_outcome) {
    array->push_back('}');
  }
  arrays.task_ids = pgtq::detail::pg_integer_array(ids);
  arrays.task_claims = pgtq::detail::pg_integer_array(claims);
  std::vector<std::optional<std::string>> progress;
  std::vector<std::optional<std::string>> checkpoints;
  std::vector<std::optional<std::string>> followups;
  for (const Outcome& outcome : outcomes) {
    progress.push_back(outcome.progress);
    // Only a task that stays live keeps its checkpoint (for its next attempt).
    checkpoints.push_back(outcome.status == OutcomeStatus::retry ||
                                  outcome.status == OutcomeStatus::snooze
                              ? outcome.checkpoint
                              : std::nullopt);
    if (outcome.status == OutcomeStatus::done && !outcome.followups.empty()) {
      std::string list = "[";
      for (const std::string& followup : outcome.followups) {
        list += (list.size() > 1 ? "," : "") + followup;
      }
      followups.push_back(list + "]");
    } else {
      followups.emplace_back();
    }
  }
  arrays.progress = optional_json_array(progress);
  arrays.checkpoints = optional_json_array(checkpoints);
  arrays.followups = optional_json_array(followups);
  return arrays;
}

std::optional<std::string>
optional_json_array(const std::vector<std::optional<std::string>>& values) {
  if (std::none_of(values.begin(), values.end(), [](const auto& value) { return value; })) {
    return std::nullopt;
  }
  std::string array = "{";
  for (const std::optional<std::string>& value : values) {
    if (array.size() > 1) {
      array += ',';
    }
    if (value) {
      pgtq::detail::pg_array_append_quoted(array, *value);
    } else {
      array += "NULL";
    }
  }
  return array + "}";
}

} // namespace pgtq::queue
