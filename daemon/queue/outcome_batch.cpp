#include "queue/outcome_batch.hpp"

#include "queue/backoff.hpp"

#include <pgtq/client/pg_array.hpp>

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
  std::size_t i = 0;
  while (i < text.size()) {
    const auto byte = static_cast<unsigned char>(text[i]);
    if (byte == 0) {
      out += ' ';
      ++i;
      continue;
    }
    if (byte < 0x80) {
      out += static_cast<char>(byte);
      ++i;
      continue;
    }
    // Length and smallest code point of the sequence, per RFC 3629.
    std::size_t length = 0;
    std::uint32_t minimum = 0;
    std::uint32_t code = 0;
    if ((byte & 0xE0) == 0xC0) {
      length = 2, minimum = 0x80, code = byte & 0x1F;
    } else if ((byte & 0xF0) == 0xE0) {
      length = 3, minimum = 0x800, code = byte & 0x0F;
    } else if ((byte & 0xF8) == 0xF0) {
      length = 4, minimum = 0x10000, code = byte & 0x07;
    }
    bool valid = length != 0 && i + length <= text.size();
    for (std::size_t k = 1; valid && k < length; ++k) {
      const auto next = static_cast<unsigned char>(text[i + k]);
      valid = (next & 0xC0) == 0x80;
      code = (code << 6) | (next & 0x3F);
    }
    valid = valid && code >= minimum && code <= 0x10FFFF && (code < 0xD800 || code > 0xDFFF);
    if (valid) {
      out.append(text.substr(i, length));
      i += length;
    } else {
      out += k_replacement;
      ++i;
    }
  }
  return out;
}

OutcomeArrays encode_outcomes(const std::vector<Outcome>& outcomes) {
  OutcomeArrays arrays;
  std::vector<std::int64_t> ids;
  std::vector<std::int64_t> claims;
  std::string* const per_outcome[] = {&arrays.statuses, &arrays.results, &arrays.errors,
                                      &arrays.retry_in};
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
  return arrays;
}

} // namespace pgtq::queue
