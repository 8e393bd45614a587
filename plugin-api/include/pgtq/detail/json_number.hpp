// JSON number text -> C++ numbers, exactly. RapidJSON holds a number as a 64-bit integer or
// else as the nearest double, and refuses one beyond double's range (1e400) outright, so
// plugin.hpp converts numbers from their text instead: an integer parameter gets the exact
// value or an error, a floating-point parameter the nearest value or an error when rounding
// would change an integer or leave the type's range.
#ifndef PGTQ_DETAIL_JSON_NUMBER_HPP
#define PGTQ_DETAIL_JSON_NUMBER_HPP

#include <array>
#include <charconv>
#include <concepts>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <system_error>
#include <type_traits>
#include <utility>
#include <vector>

namespace pgtq::detail {

// One number token of JSON text (RFC 8259), as views into that text.
struct NumberToken {
  bool negative = false;
  bool has_point = false;
  bool has_exponent = false;
  bool exponent_negative = false;
  bool well_formed = false;
  std::string_view integer;  // digits before the point
  std::string_view fraction; // digits after the point
  std::string_view exponent; // digits after e/E
  std::size_t size = 0;      // characters of the token, also when it is malformed

  // Written with digits only ("42", "-7"): what a producer emits for an integer.
  bool is_integer_literal() const noexcept { return !has_point && !has_exponent; }
};

// Reads the number at text[pos]: '-'? ('0' | [1-9][0-9]*) ('.' [0-9]+)? ([eE] [+-]? [0-9]+)?,
// longest match, as RapidJSON does. size counts what was read even when well_formed is false.
inline NumberToken read_number(std::string_view text, std::size_t pos) {
  NumberToken token;
  const std::size_t start = pos;
  const auto digit = [&] { return pos < text.size() && text[pos] >= '0' && text[pos] <= '9'; };
  const auto digits = [&] {
    const std::size_t from = pos;
    while (digit()) {
      ++pos;
    }
    return text.substr(from, pos - from);
  };
  const auto done = [&](bool ok) {
    token.well_formed = ok;
    token.size = pos - start;
    return token;
  };
  if (pos < text.size() && text[pos] == '-') {
    token.negative = true;
    ++pos;
  }
  if (pos < text.size() && text[pos] == '0') {
    token.integer = text.substr(pos++, 1);
  } else {
    token.integer = digits();
    if (token.integer.empty()) {
      return done(false);
    }
  }
  if (pos < text.size() && text[pos] == '.') {
    token.has_point = true;
    ++pos;
    token.fraction = digits();
    if (token.fraction.empty()) {
      return done(false);
    }
  }
  if (pos < text.size() && (text[pos] == 'e' || text[pos] == 'E')) {
    token.has_exponent = true;
    ++pos;
    if (pos < text.size() && (text[pos] == '+' || text[pos] == '-')) {
      token.exponent_negative = text[pos] == '-';
      ++pos;
    }
    token.exponent = digits();
    if (token.exponent.empty()) {
      return done(false);
    }
  }
  return done(true);
}

// The exponent's value, saturated far beyond any type's range so that it cannot overflow.
inline std::int64_t exponent_value(const NumberToken& token) {
  constexpr std::int64_t k_saturated = 1'000'000'000'000;
  std::int64_t value = 0;
  for (const char c : token.exponent) {
    value = value * 10 + (c - '0');
    if (value > k_saturated) {
      value = k_saturated;
      break;
    }
  }
  return token.exponent_negative ? -value : value;
}

// A number as 0.DIGITS x 10^point with no leading or trailing zero digit: 1.25e3 is
// ("125", 4), 0.05 is ("5", -1). Zero has no digits.
struct Decimal {
  bool negative = false;
  std::string digits;
  std::int64_t point = 0;
};

inline Decimal to_decimal(const NumberToken& token) {
  Decimal decimal;
  decimal.negative = token.negative;
  decimal.digits.reserve(token.integer.size() + token.fraction.size());
  decimal.digits.append(token.integer).append(token.fraction);
  decimal.point = static_cast<std::int64_t>(token.integer.size()) + exponent_value(token);
  const std::size_t leading = decimal.digits.find_first_not_of('0');
  if (leading == std::string::npos) {
    decimal.digits.clear();
    decimal.point = 0;
    return decimal;
  }
  decimal.digits.erase(0, leading);
  decimal.point -= static_cast<std::int64_t>(leading);
  decimal.digits.erase(decimal.digits.find_last_not_of('0') + 1);
  return decimal;
}

enum class IntegerFit { ok, not_integer, out_of_range };

// The exact integer the token denotes, whatever its notation: 2.0, 1.5e1 and 20E-1 are
// integers; 2.5 and 1e-400 are not.
template <class T> IntegerFit to_integer(const NumberToken& token, T& out) {
  const Decimal decimal = to_decimal(token);
  if (decimal.digits.empty()) {
    out = 0;
    return IntegerFit::ok;
  }
  const auto count = static_cast<std::int64_t>(decimal.digits.size());
  if (decimal.point < count) {
    return IntegerFit::not_integer;
  }
  if (decimal.point > std::numeric_limits<std::uint64_t>::digits10 + 1) {
    return IntegerFit::out_of_range;
  }
  std::uint64_t magnitude = 0;
  for (std::int64_t i = 0; i < decimal.point; ++i) {
    const auto digit =
        static_cast<unsigned>(i < count ? decimal.digits[static_cast<std::size_t>(i)] - '0' : 0);
    if (magnitude > (std::numeric_limits<std::uint64_t>::max() - digit) / 10) {
      return IntegerFit::out_of_range;
    }
    magnitude = magnitude * 10 + digit;
  }
  if (!decimal.negative) {
    if (!std::in_range<T>(magnitude)) {
      return IntegerFit::out_of_range;
    }
    out = static_cast<T>(magnitude);
    return IntegerFit::ok;
  }
  if constexpr (std::is_unsigned_v<T>) {
    return IntegerFit::out_of_range;
  } else {
    // |min| is max + 1, which T itself cannot hold.
    const auto limit = static_cast<std::uint64_t>(std::numeric_limits<T>::max()) + 1;
    if (magnitude > limit) {
      return IntegerFit::out_of_range;
    }
    out = magnitude == limit ? std::numeric_limits<T>::min()
                             : static_cast<T>(-static_cast<T>(magnitude));
    return IntegerFit::ok;
  }
}

// The exact decimal digits of an integral floating-point value ("-9007199254740992").
template <std::floating_point T> std::string integer_digits(T value) {
  std::array<char, std::numeric_limits<T>::max_exponent10 + 8> buffer{};
  const auto [end, status] = std::to_chars(
      buffer.data(), buffer.data() + buffer.size(), value, std::chars_format::fixed, 0);
  return status == std::errc() ? std::string(buffer.data(), end) : std::string();
}

// Whether value is exactly the integer the token spells (an integer literal).
template <std::floating_point T> bool holds_exactly(const NumberToken& token, T value) {
  // Up to digits10 digits every integer survives the round trip.
  if (token.integer.size() <= static_cast<std::size_t>(std::numeric_limits<T>::digits10)) {
    return true;
  }
  std::string spelled = token.negative ? "-" : "";
  spelled += token.integer;
  return integer_digits(value) == spelled;
}

enum class FloatFit { ok, overflow, underflow, inexact };

// The nearest T to the number in text (one well-formed token). overflow: beyond T's largest
// finite value; underflow: not zero, but nearer to zero than to T's smallest value; inexact:
// an integer literal that T cannot hold exactly (9007199254740993 as double), `out` being
// the nearest value.
template <std::floating_point T>
FloatFit to_floating(std::string_view text, const NumberToken& token, T& out) {
  T value{};
  const auto [end, status] = std::from_chars(text.data(), text.data() + token.size, value);
  if (status == std::errc::result_out_of_range) {
    return to_decimal(token).point > 0 ? FloatFit::overflow : FloatFit::underflow;
  }
  if (status != std::errc() || end != text.data() + token.size) {
    return FloatFit::overflow; // unreachable for a well-formed token
  }
  out = value;
  if (token.is_integer_literal() && !holds_exactly(token, value)) {
    return FloatFit::inexact;
  }
  return FloatFit::ok;
}

// Where a number token lies in a JSON text.
struct NumberSpan {
  std::size_t begin;
  std::size_t size;
};

// Every number token of a JSON text outside strings, in text order: the order in which a
// SAX parse of the text reports them. *risky: whether RapidJSON's reader would refuse one
// even with kParseNumbersAsStringsFlag (more than 300 integer digits or an exponent of 300 or
// more: a margin below its limits).
inline std::vector<NumberSpan> find_numbers(std::string_view text, bool* risky) {
  constexpr std::size_t k_risky_digits = 300;
  std::vector<NumberSpan> numbers;
  *risky = false;
  std::size_t pos = 0;
  while (pos < text.size()) {
    const char c = text[pos];
    if (c == '"') {
      for (++pos; pos < text.size() && text[pos] != '"'; ++pos) {
        if (text[pos] == '\\') {
          ++pos;
        }
      }
      ++pos;
    } else if (c == '-' || (c >= '0' && c <= '9')) {
      const NumberToken token = read_number(text, pos);
      numbers.push_back({pos, token.size});
      *risky = *risky || token.integer.size() > k_risky_digits ||
               (!token.exponent_negative &&
                exponent_value(token) >= static_cast<std::int64_t>(k_risky_digits));
      pos += token.size;
    } else {
      ++pos;
    }
  }
  return numbers;
}

// A copy of text in which every well-formed number token longer than one character is
// overwritten by "0" and spaces: the same token class at the same offset, so the copy is
// valid JSON exactly when the text is, and RapidJSON parses it whatever the numbers were.
inline std::string with_plain_numbers(std::string_view text,
                                      const std::vector<NumberSpan>& numbers) {
  std::string copy(text);
  for (const NumberSpan span : numbers) {
    if (span.size > 1 && read_number(text, span.begin).well_formed) {
      copy.replace(span.begin, span.size, span.size, ' ');
      copy[span.begin] = '0';
    }
  }
  return copy;
}

// How messages name a number type: int32_t rather than int or long, whatever the platform.
template <class T> std::string number_type_name() {
  if constexpr (std::is_same_v<T, float>) {
    return "float";
  } else if constexpr (std::is_same_v<T, double>) {
    return "double";
  } else if constexpr (std::is_same_v<T, long double>) {
    return "long double";
  } else {
    return std::string(std::is_signed_v<T> ? "int" : "uint") +
           std::to_string(std::numeric_limits<T>::digits + (std::is_signed_v<T> ? 1 : 0)) + "_t";
  }
}

} // namespace pgtq::detail

#endif
