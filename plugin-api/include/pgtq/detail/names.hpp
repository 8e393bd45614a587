#pragma once

// The one rule for queue and task names, shared by the plugin SDK, pgtqd and pgtqctl; the SQL
// functions hold the same rule (sql/schema/02_names_and_limits.sql, pgtq.check_name).

#include <string_view>

namespace pgtq::detail {

// 1 to 128 characters from [A-Za-z0-9_.:-].
inline bool is_valid_name(std::string_view name) {
  if (name.empty() || name.size() > 128) {
    return false;
  }
  for (const char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                    c == '_' || c == '.' || c == ':' || c == '-';
    if (!ok) {
      return false;
    }
  }
  return true;
}

} // namespace pgtq::detail
