#pragma once

// PostgreSQL array literals for text[], bigint[] and integer[] parameters: the protocol
// functions take arrays, and a literal is the only way to pass one as a text parameter.

#include "pgtq/client/error.hpp"

#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

namespace pgtq::detail {

// Appends one array element in double quotes: commas, braces, spaces, the word NULL and the
// empty string all stay plain text; inside the quotes only " and \ need a backslash. The
// caller makes sure that text holds no NUL byte (a text parameter cannot carry one).
inline void pg_array_append_quoted(std::string& out, std::string_view text) {
  out += '"';
  for (const char c : text) {
    if (c == '"' || c == '\\') {
      out += '\\';
    }
    out += c;
  }
  out += '"';
}

// {"a","b \"c\""} for text[]. A NUL byte cannot travel in a text parameter at all, so it is
// refused here.
inline std::string pg_text_array(const std::vector<std::string>& elements) {
  std::string out = "{";
  for (std::size_t i = 0; i < elements.size(); ++i) {
    if (elements[i].find('\0') != std::string::npos) {
      throw Error("22023",
                  "pgtq: array element " + std::to_string(i + 1) +
                      " contains a NUL byte, which PostgreSQL text cannot hold");
    }
    if (i > 0) {
      out += ',';
    }
    pg_array_append_quoted(out, elements[i]);
  }
  out += '}';
  return out;
}

// {1,2,3} for bigint[] and integer[].
template <class Integer> std::string pg_integer_array(const std::vector<Integer>& elements) {
  static_assert(std::is_integral_v<Integer> && !std::is_same_v<Integer, bool>,
                "pgtq: pg_integer_array takes integers");
  std::string out = "{";
  for (std::size_t i = 0; i < elements.size(); ++i) {
    if (i > 0) {
      out += ',';
    }
    out += std::to_string(elements[i]);
  }
  out += '}';
  return out;
}

} // namespace pgtq::detail
