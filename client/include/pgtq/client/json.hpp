#pragma once

// JSON for task arguments without a JSON library: an encoder for plain C++ values and a
// syntax check for JSON text the caller wrote by hand. Both exist so that the client
// header needs nothing but libpq.

#include "pgtq/client/error.hpp"
#include "pgtq/detail/utf8.hpp" // from plugin-api: one UTF-8 rule for every part

#include <array>
#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>

namespace pgtq {

class JsonText;
// plugin.hpp's JSON value (a handler's parameter or result). Declared, not defined, so that a
// plugin that pushes follow-up tasks can pass one on; it is checked before being embedded.
class Json;

namespace detail {

struct JsonAccess {
  static JsonText make(std::string text);
};

// Appends text as a quoted JSON string. Multi-byte UTF-8 passes through unchanged;
// control characters are escaped because JSON forbids them raw.
inline void append_json_string(std::string& out, std::string_view text) {
  static constexpr char k_hex[] = "0123456789abcdef";
  out += '"';
  for (std::size_t pos = 0; pos < text.size();) {
    const auto c = static_cast<unsigned char>(text[pos]);
    if (c >= 0x80) {
      const std::size_t length = utf8_sequence_length(text, pos);
      if (length == 0) {
        throw Error("22021",
                    "pgtq: string is not valid UTF-8 (byte " + std::to_string(pos) + " of " +
                        std::to_string(text.size()) + ")");
      }
      out.append(text, pos, length);
      pos += length;
      continue;
    }
    switch (c) {
    case '"':
      out += "\\\"";
      break;
    case '\\':
      out += "\\\\";
      break;
    case '\b':
      out += "\\b";
      break;
    case '\f':
      out += "\\f";
      break;
    case '\n':
      out += "\\n";
      break;
    case '\r':
      out += "\\r";
      break;
    case '\t':
      out += "\\t";
      break;
    default:
      if (c < 0x20) {
        out += "\\u00";
        out += k_hex[c >> 4];
        out += k_hex[c & 0xF];
      } else {
        out += static_cast<char>(c);
      }
    }
    ++pos;
  }
  out += '"';
}

// Whether text is exactly one JSON value (RFC 8259), surrounding whitespace allowed.
// Iterative, so that deeply nested input cannot exhaust the stack. On failure, *error_at
// is the byte offset where the text stopped making sense.
inline bool is_json_value(std::string_view text, std::size_t* error_at = nullptr) {
  std::string open; // '[' or '{' per nesting level
  std::size_t pos = 0;
  const auto fail = [&] {
    if (error_at != nullptr) {
      *error_at = pos;
    }
    return false;
  };
  const auto skip_space = [&] {
    while (pos < text.size() &&
           (text[pos] == ' ' || text[pos] == '\t' || text[pos] == '\n' || text[pos] == '\r')) {
      ++pos;
    }
  };
  const auto at = [&](char c) { return pos < text.size() && text[pos] == c; };
  const auto digit = [&] { return pos < text.size() && text[pos] >= '0' && text[pos] <= '9'; };
  const auto hex = [&] {
    if (pos >= text.size()) {
      return false;
    }
    const char c = text[pos];
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
  };
  const auto scan_string = [&] {
    ++pos; // opening quote
    while (pos < text.size()) {
      const auto c = static_cast<unsigned char>(text[pos]);
      if (c == '"') {
        ++pos;
        return true;
      }
      if (c < 0x20) {
        return false;
      }
      if (c == '\\') {
        ++pos;
        if (at('u')) {
          ++pos;
          for (int i = 0; i < 4; ++i, ++pos) {
            if (!hex()) {
              return false;
            }
          }
          continue;
        }
        if (pos >= text.size() ||
            std::string_view("\"\\/bfnrt").find(text[pos]) == std::string_view::npos) {
          return false;
        }
        ++pos;
        continue;
      }
      const std::size_t length = utf8_sequence_length(text, pos);
      if (length == 0) {
        return false;
      }
      pos += length;
    }
    return false;
  };
  const auto scan_number = [&] {
    if (at('-')) {
      ++pos;
    }
    if (at('0')) {
      ++pos;
    } else if (digit()) {
      while (digit()) {
        ++pos;
      }
    } else {
      return false;
    }
    if (at('.')) {
      ++pos;
      if (!digit()) {
        return false;
      }
      while (digit()) {
        ++pos;
      }
    }
    if (at('e') || at('E')) {
      ++pos;
      if (at('+') || at('-')) {
        ++pos;
      }
      if (!digit()) {
        return false;
      }
      while (digit()) {
        ++pos;
      }
    }
    return true;
  };
  const auto scan_word = [&](std::string_view word) {
    if (text.substr(pos, word.size()) != word) {
      return false;
    }
    pos += word.size();
    return true;
  };
  // An object member's key and colon; the value follows.
  const auto scan_key = [&] {
    skip_space();
    if (!at('"') || !scan_string()) {
      return false;
    }
    skip_space();
    if (!at(':')) {
      return false;
    }
    ++pos;
    return true;
  };

  for (;;) {
    // A value is expected here.
    skip_space();
    if (pos >= text.size()) {
      return fail();
    }
    const char c = text[pos];
    bool scanned = true;
    if (c == '[' || c == '{') {
      ++pos;
      skip_space();
      if (at(c == '[' ? ']' : '}')) {
        ++pos;
      } else {
        open += c;
        if (c == '{' && !scan_key()) {
          return fail();
        }
        continue;
      }
    } else if (c == '"') {
      scanned = scan_string();
    } else if (c == '-' || (c >= '0' && c <= '9')) {
      scanned = scan_number();
    } else if (c == 't') {
      scanned = scan_word("true");
    } else if (c == 'f') {
      scanned = scan_word("false");
    } else if (c == 'n') {
      scanned = scan_word("null");
    } else {
      scanned = false;
    }
    if (!scanned) {
      return fail();
    }
    // After a value: close containers, or find the comma before the next value.
    for (;;) {
      skip_space();
      if (open.empty()) {
        return pos == text.size() || fail();
      }
      if (at(',')) {
        ++pos;
        if (open.back() == '{' && !scan_key()) {
          return fail();
        }
        break;
      }
      if (at(open.back() == '[' ? ']' : '}')) {
        ++pos;
        open.pop_back();
        continue;
      }
      return fail();
    }
  }
}

template <class T> inline constexpr bool k_always_false = false;

template <class T, class = void> struct IsMap : std::false_type {};
template <class T>
struct IsMap<T, std::void_t<typename T::key_type, typename T::mapped_type>> : std::true_type {};

template <class T, class = void> struct IsRange : std::false_type {};
template <class T>
struct IsRange<T,
               std::void_t<decltype(std::begin(std::declval<const T&>())),
                           decltype(std::end(std::declval<const T&>()))>> : std::true_type {};

template <class T> struct IsOptional : std::false_type {};
template <class T> struct IsOptional<std::optional<T>> : std::true_type {};

template <class T>
inline constexpr bool k_is_char = std::is_same_v<T, char> || std::is_same_v<T, wchar_t> ||
                                  std::is_same_v<T, char16_t> || std::is_same_v<T, char32_t>
#if defined(__cpp_char8_t)
                                  || std::is_same_v<T, char8_t>
#endif
    ;

template <class T>
inline constexpr bool k_is_text = std::is_convertible_v<const T&, std::string_view>;

template <class T> void write_json(std::string& out, const T& value);

template <class Number> void write_number(std::string& out, Number value) {
  std::array<char, 64> buffer{};
  const auto [end, status] = std::to_chars(buffer.data(), buffer.data() + buffer.size(), value);
  if (status != std::errc()) {
    throw Error("22023", "pgtq: cannot format a number as JSON");
  }
  out.append(buffer.data(), end);
}

template <class T> void write_json(std::string& out, const T& value) {
  if constexpr (std::is_same_v<T, JsonText>) {
    out += static_cast<const std::string&>(value);
  } else if constexpr (std::is_same_v<T, Json>) {
    if (!is_json_value(value.text())) {
      throw Error("22P02", "pgtq: a pgtq::Json value is not valid JSON");
    }
    out += value.text();
  } else if constexpr (std::is_same_v<T, std::nullptr_t> || std::is_same_v<T, std::nullopt_t>) {
    out += "null";
  } else if constexpr (std::is_same_v<T, bool>) {
    out += value ? "true" : "false";
  } else if constexpr (k_is_char<T>) {
    static_assert(k_always_false<T>,
                  "pgtq: a char is ambiguous in JSON; pass a string "
                  "(std::string(1, c)) or a number (int(c))");
  } else if constexpr (std::is_integral_v<T>) {
    write_number(out, value);
  } else if constexpr (std::is_floating_point_v<T>) {
    if (!std::isfinite(value)) {
      throw Error("22023",
                  "pgtq: JSON has no NaN or infinity, so it cannot hold " +
                      std::string(std::isnan(value) ? "NaN" : "an infinite number"));
    }
    write_number(out, value);
  } else if constexpr (std::is_enum_v<T>) {
    write_number(out, static_cast<std::underlying_type_t<T>>(value));
  } else if constexpr (k_is_text<T>) {
    if constexpr (std::is_pointer_v<T>) {
      if (value == nullptr) {
        out += "null";
        return;
      }
    }
    append_json_string(out, std::string_view(value));
  } else if constexpr (IsOptional<T>::value) {
    if (value) {
      write_json(out, *value);
    } else {
      out += "null";
    }
  } else if constexpr (IsMap<T>::value) {
    static_assert(k_is_text<typename T::key_type>, "pgtq: JSON object keys must be strings");
    out += '{';
    bool first = true;
    for (const auto& [key, mapped] : value) {
      if (!first) {
        out += ',';
      }
      first = false;
      append_json_string(out, std::string_view(key));
      out += ':';
      write_json(out, mapped);
    }
    out += '}';
  } else if constexpr (IsRange<T>::value) {
    out += '[';
    bool first = true;
    for (const auto& element : value) {
      if (!first) {
        out += ',';
      }
      first = false;
      write_json(out, static_cast<const std::decay_t<decltype(element)>&>(element));
    }
    out += ']';
  } else {
    static_assert(k_always_false<T>,
                  "pgtq: no JSON encoding for this type; encode it yourself "
                  "and wrap the text in pgtq::json()");
  }
}

} // namespace detail

// JSON text that is known to be exactly one JSON value: made by pgtq::json() (checked) or
// by the encoder (pgtq::to_json, pgtq::args). Inside encoded values it is inserted as is,
// so pre-encoded JSON nests without being quoted a second time.
class JsonText {
public:
  const std::string& text() const noexcept { return m_text; }
  operator const std::string&() const noexcept { return m_text; } // NOLINT: JSON is text

private:
  friend struct detail::JsonAccess;
  explicit JsonText(std::string text) : m_text(std::move(text)) {}

  std::string m_text;
};

inline JsonText detail::JsonAccess::make(std::string text) {
  return JsonText(std::move(text));
}

// Raw JSON written by the caller. Throws pgtq::Error (SQLSTATE 22P02) unless it is exactly
// one JSON value, so that it can never break out of an array it is embedded in.
inline JsonText json(std::string_view raw) {
  std::size_t error_at = 0;
  if (!detail::is_json_value(raw, &error_at)) {
    throw Error("22P02",
                "pgtq: invalid JSON at byte " + std::to_string(error_at) + " of " +
                    std::to_string(raw.size()));
  }
  return detail::JsonAccess::make(std::string(raw));
}

// One C++ value as JSON: bool, integers, finite floating point, enums (as numbers),
// strings (std::string, std::string_view, const char*; a null pointer is null), nullptr,
// std::optional (empty is null), maps with string keys (objects), sequences such as
// std::vector and std::array (arrays), and pgtq::JsonText or plugin.hpp's pgtq::Json
// (inserted as is).
template <class T> JsonText to_json(const T& value) {
  std::string out;
  detail::write_json(out, value);
  return detail::JsonAccess::make(std::move(out));
}

// Task arguments as a JSON array: pgtq::args(2, 3) is [2,3], pgtq::args() is [].
template <class... T> JsonText args(const T&... values) {
  std::string out = "[";
  (
      [&] {
        if (out.size() > 1) {
          out += ',';
        }
        detail::write_json(out, values);
      }(),
      ...);
  out += ']';
  return detail::JsonAccess::make(std::move(out));
}

} // namespace pgtq
