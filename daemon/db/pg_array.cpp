#include "db/pg_array.hpp"

namespace pgtq::db {
namespace {

template <typename Integer> std::string integer_array(const std::vector<Integer>& values) {
  std::string literal = "{";
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i != 0) {
      literal += ',';
    }
    literal += std::to_string(values[i]);
  }
  literal += '}';
  return literal;
}

} // namespace

std::string array_literal(const std::vector<std::int64_t>& values) { return integer_array(values); }
std::string array_literal(const std::vector<std::int32_t>& values) { return integer_array(values); }

std::string array_literal(const std::vector<std::string>& values) {
  std::string literal = "{";
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (i != 0) {
      literal += ',';
    }
    literal += '"';
    for (const char c : values[i]) {
      if (c == '"' || c == '\\') {
        literal += '\\';
      }
      literal += c;
    }
    literal += '"';
  }
  literal += '}';
  return literal;
}

} // namespace pgtq::db
