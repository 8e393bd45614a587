#include "db/result.hpp"

#include <charconv>
#include <stdexcept>

namespace pgtq::db {

std::string_view Result::text(int row, int column) const {
  return {PQgetvalue(m_result.get(), row, column),
          static_cast<std::size_t>(PQgetlength(m_result.get(), row, column))};
}

std::int64_t Result::int64(int row, int column) const {
  const std::string_view value = text(row, column);
  std::int64_t parsed = 0;
  const auto [end, error] = std::from_chars(value.data(), value.data() + value.size(), parsed);
  if (error != std::errc{} || end != value.data() + value.size()) {
    throw std::runtime_error("expected an integer from the database, got \"" + std::string(value) +
                             "\"");
  }
  return parsed;
}

std::optional<std::string> Result::optional_string(int row, int column) const {
  if (is_null(row, column)) {
    return std::nullopt;
  }
  return string(row, column);
}

} // namespace pgtq::db
