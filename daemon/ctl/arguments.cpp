#include "ctl/arguments.hpp"

#include <pgtq/client/push.hpp>
#include <pgtq/detail/names.hpp>

#include <charconv>
#include <string_view>

namespace pgtq::ctl {
namespace {

// Decimal digits with an optional leading minus and nothing else: from_chars alone would
// accept "12abc" as 12, and std::stoll would clamp nothing but skip spaces.
template <class Int> bool parse_whole(const std::string& text, Int& value) {
  const char* end = text.data() + text.size();
  const auto [stop, error] = std::from_chars(text.data(), end, value);
  return !text.empty() && error == std::errc() && stop == end;
}

} // namespace

std::int64_t parse_task_id(const std::string& text, const std::string& what) {
  std::int64_t id = 0;
  if (!parse_whole(text, id) || id < 1) {
    throw UsageError(what + " must be an integer from 1 to 9223372036854775807, got '" + text +
                     "'");
  }
  return id;
}

int parse_int(const std::string& option, const std::string& text, int min, int max) {
  int value = 0;
  if (!parse_whole(text, value) || value < min || value > max) {
    throw UsageError(option + " must be an integer from " + std::to_string(min) + " to " +
                     std::to_string(max) + ", got '" + text + "'");
  }
  return value;
}

void check_name(const std::string& option, const std::string& name) {
  if (!pgtq::detail::is_valid_name(name)) {
    throw UsageError(option + " must be 1 to 128 characters from [A-Za-z0-9_.:-], got '" + name +
                     "'");
  }
}

void check_state(const std::string& state, const std::string& option) {
  if (pgtq::detail::is_task_state(state)) {
    return;
  }
  std::string known;
  for (const std::string_view name : pgtq::detail::k_task_states) {
    known += (known.empty() ? "" : ", ") + std::string(name);
  }
  throw UsageError(option + " must be one of " + known + ", got '" + state + "'");
}

} // namespace pgtq::ctl
