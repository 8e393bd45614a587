#include "queue/outcome_batch.hpp"

#include "queue/backoff.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

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

std::string encode_outcomes(const std::vector<Outcome>& outcomes) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  writer.StartArray();
  for (const Outcome& outcome : outcomes) {
    writer.StartObject();
    writer.Key("id");
    writer.Int64(outcome.id);
    writer.Key("claim");
    writer.Int64(outcome.claim);
    writer.Key("status");
    writer.String(to_string(outcome.status));
    switch (outcome.status) {
    case OutcomeStatus::done:
      writer.Key("result");
      writer.RawValue(outcome.result.data(), outcome.result.size(), rapidjson::kObjectType);
      break;
    case OutcomeStatus::retry:
    case OutcomeStatus::snooze:
      writer.Key("retry_in");
      // Clamped here, the one place every delay passes through (a plugin's retry delay, a
      // snooze, the backoff): beyond 100 years the database cannot store the time.
      writer.Double(storable_delay(outcome.retry_in_s));
      [[fallthrough]];
    case OutcomeStatus::fail:
      if (!outcome.error.empty() || outcome.status != OutcomeStatus::snooze) {
        writer.Key("error");
        const std::string error = storable_text(outcome.error);
        writer.String(error.data(), static_cast<rapidjson::SizeType>(error.size()));
      }
      break;
    }
    writer.EndObject();
  }
  writer.EndArray();
  return {buffer.GetString(), buffer.GetSize()};
}

} // namespace pgtq::queue
