// JSON value -> handler parameter. Strict on purpose: a value that does not fit its C++
// type is a permanent task error naming the argument, never a silent truncation or rounding
// of an integer. Numbers are converted from their text (see args_document.hpp).
#ifndef PGTQ_DETAIL_JSON_DECODE_HPP
#define PGTQ_DETAIL_JSON_DECODE_HPP

#include "pgtq/detail/args_document.hpp"
#include "pgtq/detail/errors.hpp"
#include "pgtq/detail/json_number.hpp"
#include "pgtq/detail/json_types.hpp"
#include "pgtq/detail/type_traits.hpp"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace pgtq::detail {

// Compact JSON text of a value already held in a document (so it is valid by construction).
inline std::string to_json_text(const rapidjson::Value& value) {
  rapidjson::StringBuffer buffer;
  rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
  value.Accept(writer);
  return {buffer.GetString(), buffer.GetSize()};
}

// A value's text for a message, shortened when too long to help.
inline std::string shown(std::string text) {
  constexpr std::size_t k_max_shown = 40;
  if (text.size() > k_max_shown) {
    text.resize(k_max_shown);
    text += "...";
  }
  return text;
}

// How an error message shows a value: its kind, plus the value itself when short enough
// to help ("string \"x\"", "number 3.5", "array of 2", "object"). Numbers as written.
inline std::string describe(const rapidjson::Value& value, const ArgsDocument& args) {
  if (value.IsNull()) {
    return "null";
  }
  if (value.IsArray()) {
    return "array of " + std::to_string(value.Size());
  }
  if (value.IsObject()) {
    return "object";
  }
  if (value.IsNumber()) {
    return "number " + shown(std::string(args.number_text(value)));
  }
  return (value.IsBool() ? "boolean " : "string ") + shown(to_json_text(value));
}

[[noreturn]] inline void
mismatch(std::string_view expected, const rapidjson::Value& value, const ArgsDocument& args) {
  throw DecodeError("expected " + std::string(expected) + ", got " + describe(value, args));
}

template <class T> struct Decoder {
  static_assert(dependent_false<T>,
                "pgtq: unsupported handler parameter type. Use bool, an integer or floating-point "
                "type, std::string, std::string_view, std::vector<T>, std::optional<T>, "
                "std::map<std::string, T>, pgtq::Json or const rapidjson::Value&");
};

template <class T> T decode(const rapidjson::Value& value, const ArgsDocument& args) {
  return Decoder<T>::decode(value, args);
}

template <> struct Decoder<bool> {
  static bool decode(const rapidjson::Value& value, const ArgsDocument& args) {
    if (!value.IsBool()) {
      mismatch("boolean", value, args);
    }
    return value.GetBool();
  }
};

// Any notation of an integer is accepted (2, 2.0, 2e0, 20e-1); anything else is an error:
// 2.5, 3e9 for int32_t, 18446744073709551616 for any type.
template <json_integer T> struct Decoder<T> {
  static T decode(const rapidjson::Value& value, const ArgsDocument& args) {
    if (!value.IsNumber()) {
      mismatch("integer", value, args);
    }
    // The document holds integer literals that fit 64 bits exactly.
    if (value.IsInt64() && std::in_range<T>(value.GetInt64())) {
      return static_cast<T>(value.GetInt64());
    }
    if (value.IsUint64() && std::in_range<T>(value.GetUint64())) {
      return static_cast<T>(value.GetUint64());
    }
    const std::string_view text = args.number_text(value);
    T out{};
    switch (to_integer(read_number(text, 0), out)) {
    case IntegerFit::ok:
      return out;
    case IntegerFit::not_integer:
      mismatch("integer", value, args);
    case IntegerFit::out_of_range:
      break;
    }
    throw DecodeError("number " + shown(std::string(text)) + " is out of range for " +
                      number_type_name<T>() + " [" + std::to_string(std::numeric_limits<T>::min()) +
                      ", " + std::to_string(std::numeric_limits<T>::max()) + "]");
  }
};

// The nearest value, as any JSON reader gives, except where that would change the number
// beyond rounding a decimal: beyond the type's range (1e400), nearer to zero than its
// smallest value (1e-400), or an integer literal it cannot hold exactly
// (9007199254740993, i.e. 2^53 + 1, as double). -0 stays -0.
template <std::floating_point T> struct Decoder<T> {
  static T decode(const rapidjson::Value& value, const ArgsDocument& args) {
    if (!value.IsNumber()) {
      mismatch("number", value, args);
    }
    // Integers up to 2^digits are exact in T; zero is left to the text for its sign.
    constexpr std::int64_t k_exact = std::int64_t{1}
                                     << std::min(std::numeric_limits<T>::digits, 62);
    if (value.IsInt64() && value.GetInt64() != 0 && value.GetInt64() >= -k_exact &&
        value.GetInt64() <= k_exact) {
      return static_cast<T>(value.GetInt64());
    }
    const std::string_view text = args.number_text(value);
    T out{};
    const std::string type = number_type_name<T>();
    switch (to_floating(text, read_number(text, 0), out)) {
    case FloatFit::ok:
      return out;
    case FloatFit::overflow:
      throw DecodeError("number " + shown(std::string(text)) + " is out of range for " + type);
    case FloatFit::underflow:
      throw DecodeError("number " + shown(std::string(text)) + " is too small for " + type +
                        " (it would become 0)");
    case FloatFit::inexact:
      break;
    }
    throw DecodeError("number " + shown(std::string(text)) + " cannot be represented exactly as " +
                      type + " (the nearest is " + shown(integer_digits(out)) + ")");
  }
};

template <> struct Decoder<std::string> {
  static std::string decode(const rapidjson::Value& value, const ArgsDocument& args) {
    if (!value.IsString()) {
      mismatch("string", value, args);
    }
    return {value.GetString(), value.GetStringLength()};
  }
};

// Points into the parsed args, which live until the handler returns: copy to keep it.
template <> struct Decoder<std::string_view> {
  static std::string_view decode(const rapidjson::Value& value, const ArgsDocument& args) {
    if (!value.IsString()) {
      mismatch("string", value, args);
    }
    return {value.GetString(), value.GetStringLength()};
  }
};

// Numbers exactly as written, so a raw argument loses nothing; whitespace is dropped.
template <> struct Decoder<Json> {
  static Json decode(const rapidjson::Value& value, const ArgsDocument& args) {
    return Json(args.exact_json(value));
  }
};

template <class T> struct Decoder<std::optional<T>> {
  static std::optional<T> decode(const rapidjson::Value& value, const ArgsDocument& args) {
    if (value.IsNull()) {
      return std::nullopt;
    }
    return Decoder<T>::decode(value, args);
  }
};

template <class T, class Alloc> struct Decoder<std::vector<T, Alloc>> {
  static std::vector<T, Alloc> decode(const rapidjson::Value& value, const ArgsDocument& args) {
    if (!value.IsArray()) {
      mismatch("array", value, args);
    }
    std::vector<T, Alloc> out;
    out.reserve(value.Size());
    for (rapidjson::SizeType i = 0; i < value.Size(); ++i) {
      try {
        out.push_back(Decoder<T>::decode(value[i], args));
      } catch (DecodeError& error) {
        error.prepend_path("[" + std::to_string(i) + "]");
        throw;
      }
    }
    return out;
  }
};

template <class Map> Map decode_object(const rapidjson::Value& value, const ArgsDocument& args) {
  if (!value.IsObject()) {
    mismatch("object", value, args);
  }
  Map out;
  for (auto member = value.MemberBegin(); member != value.MemberEnd(); ++member) {
    std::string key(member->name.GetString(), member->name.GetStringLength());
    try {
      out.insert_or_assign(key, Decoder<typename Map::mapped_type>::decode(member->value, args));
    } catch (DecodeError& error) {
      error.prepend_path("[" + to_json_text(member->name) + "]");
      throw;
    }
  }
  return out;
}

template <class T, class Compare, class Alloc>
struct Decoder<std::map<std::string, T, Compare, Alloc>> {
  static auto decode(const rapidjson::Value& value, const ArgsDocument& args) {
    return decode_object<std::map<std::string, T, Compare, Alloc>>(value, args);
  }
};

template <class T, class Hash, class Equal, class Alloc>
struct Decoder<std::unordered_map<std::string, T, Hash, Equal, Alloc>> {
  static auto decode(const rapidjson::Value& value, const ArgsDocument& args) {
    return decode_object<std::unordered_map<std::string, T, Hash, Equal, Alloc>>(value, args);
  }
};

} // namespace pgtq::detail

#endif
