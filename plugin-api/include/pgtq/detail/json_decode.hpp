// JSON value -> handler parameter. Strict on purpose: a value that does not fit its C++
// type is a permanent task error naming the argument, never a silent truncation.
#ifndef PGTQ_DETAIL_JSON_DECODE_HPP
#define PGTQ_DETAIL_JSON_DECODE_HPP

#include "pgtq/detail/errors.hpp"
#include "pgtq/detail/json_types.hpp"
#include "pgtq/detail/type_traits.hpp"

#include <rapidjson/document.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cmath>
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

// How an error message shows a value: its kind, plus the value itself when short enough
// to help ("string \"x\"", "number 3.5", "array of 2", "object").
inline std::string describe(const rapidjson::Value& value) {
  constexpr std::size_t k_max_shown = 40;
  if (value.IsNull()) {
    return "null";
  }
  if (value.IsArray()) {
    return "array of " + std::to_string(value.Size());
  }
  if (value.IsObject()) {
    return "object";
  }
  std::string shown = to_json_text(value);
  if (shown.size() > k_max_shown) {
    shown.resize(k_max_shown);
    shown += "...";
  }
  const char* kind = value.IsBool() ? "boolean " : value.IsNumber() ? "number " : "string ";
  return kind + shown;
}

[[noreturn]] inline void mismatch(std::string_view expected, const rapidjson::Value& value) {
  throw DecodeError("expected " + std::string(expected) + ", got " + describe(value));
}

template <class T>
struct Decoder {
  static_assert(dependent_false<T>,
                "pgtq: unsupported handler parameter type. Use bool, an integer or floating-point "
                "type, std::string, std::string_view, std::vector<T>, std::optional<T>, "
                "std::map<std::string, T>, pgtq::Json or const rapidjson::Value&");
};

template <class T>
T decode(const rapidjson::Value& value) {
  return Decoder<T>::decode(value);
}

template <>
struct Decoder<bool> {
  static bool decode(const rapidjson::Value& value) {
    if (!value.IsBool()) {
      mismatch("boolean", value);
    }
    return value.GetBool();
  }
};

template <json_integer T>
struct Decoder<T> {
  static T decode(const rapidjson::Value& value) {
    if (!value.IsNumber()) {
      mismatch("integer", value);
    }
    if (value.IsInt64()) {
      if (std::in_range<T>(value.GetInt64())) {
        return static_cast<T>(value.GetInt64());
      }
    } else if (value.IsUint64()) {
      if (std::in_range<T>(value.GetUint64())) {
        return static_cast<T>(value.GetUint64());
      }
    } else {
      // 2.0 is an integer to most JSON producers; 2.5 is not. The bounds are powers of two,
      // so comparing in double is exact.
      const double number = value.GetDouble();
      if (std::trunc(number) != number) {
        mismatch("integer", value);
      }
      if (number >= -0x1p63 && number < 0x1p63 &&
          std::in_range<T>(static_cast<std::int64_t>(number))) {
        return static_cast<T>(number);
      }
      if (number >= 0 && number < 0x1p64 && std::in_range<T>(static_cast<std::uint64_t>(number))) {
        return static_cast<T>(number);
      }
    }
    mismatch("integer in [" + std::to_string(std::numeric_limits<T>::min()) + ", " +
                 std::to_string(std::numeric_limits<T>::max()) + "]",
             value);
  }
};

template <std::floating_point T>
struct Decoder<T> {
  static T decode(const rapidjson::Value& value) {
    if (!value.IsNumber()) {
      mismatch("number", value);
    }
    const double number = value.GetDouble();
    if (std::abs(number) > static_cast<double>(std::numeric_limits<T>::max())) {
      mismatch("number within the range of float", value);
    }
    return static_cast<T>(number);
  }
};

template <>
struct Decoder<std::string> {
  static std::string decode(const rapidjson::Value& value) {
    if (!value.IsString()) {
      mismatch("string", value);
    }
    return {value.GetString(), value.GetStringLength()};
  }
};

// Points into the parsed args, which live until the handler returns: copy to keep it.
template <>
struct Decoder<std::string_view> {
  static std::string_view decode(const rapidjson::Value& value) {
    if (!value.IsString()) {
      mismatch("string", value);
    }
    return {value.GetString(), value.GetStringLength()};
  }
};

template <>
struct Decoder<Json> {
  static Json decode(const rapidjson::Value& value) { return Json(to_json_text(value)); }
};

template <class T>
struct Decoder<std::optional<T>> {
  static std::optional<T> decode(const rapidjson::Value& value) {
    if (value.IsNull()) {
      return std::nullopt;
    }
    return Decoder<T>::decode(value);
  }
};

template <class T, class Alloc>
struct Decoder<std::vector<T, Alloc>> {
  static std::vector<T, Alloc> decode(const rapidjson::Value& value) {
    if (!value.IsArray()) {
      mismatch("array", value);
    }
    std::vector<T, Alloc> out;
    out.reserve(value.Size());
    for (rapidjson::SizeType i = 0; i < value.Size(); ++i) {
      try {
        out.push_back(Decoder<T>::decode(value[i]));
      } catch (DecodeError& error) {
        error.prepend_path("[" + std::to_string(i) + "]");
        throw;
      }
    }
    return out;
  }
};

template <class Map>
Map decode_object(const rapidjson::Value& value) {
  if (!value.IsObject()) {
    mismatch("object", value);
  }
  Map out;
  for (auto member = value.MemberBegin(); member != value.MemberEnd(); ++member) {
    std::string key(member->name.GetString(), member->name.GetStringLength());
    try {
      out.insert_or_assign(key, Decoder<typename Map::mapped_type>::decode(member->value));
    } catch (DecodeError& error) {
      error.prepend_path("[" + to_json_text(member->name) + "]");
      throw;
    }
  }
  return out;
}

template <class T, class Compare, class Alloc>
struct Decoder<std::map<std::string, T, Compare, Alloc>> {
  static auto decode(const rapidjson::Value& value) {
    return decode_object<std::map<std::string, T, Compare, Alloc>>(value);
  }
};

template <class T, class Hash, class Equal, class Alloc>
struct Decoder<std::unordered_map<std::string, T, Hash, Equal, Alloc>> {
  static auto decode(const rapidjson::Value& value) {
    return decode_object<std::unordered_map<std::string, T, Hash, Equal, Alloc>>(value);
  }
};

} // namespace pgtq::detail

#endif
