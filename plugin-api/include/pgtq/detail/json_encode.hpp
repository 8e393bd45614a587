// Handler return value -> JSON text for task_set_result.
#ifndef PGTQ_DETAIL_JSON_ENCODE_HPP
#define PGTQ_DETAIL_JSON_ENCODE_HPP

#include "pgtq/detail/errors.hpp"
#include "pgtq/detail/json_number.hpp"
#include "pgtq/detail/json_types.hpp"
#include "pgtq/detail/type_traits.hpp"

#include <rapidjson/document.h>
#include <rapidjson/reader.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace pgtq::detail {

// kWriteValidateEncodingFlag: pgtqd stores results as jsonb, which must be UTF-8; a bad
// byte is caught here with a message instead of failing later in the database.
using JsonWriter = rapidjson::Writer<rapidjson::StringBuffer,
                                     rapidjson::UTF8<>,
                                     rapidjson::UTF8<>,
                                     rapidjson::CrtAllocator,
                                     rapidjson::kWriteValidateEncodingFlag>;

inline void check_written(bool ok, const char* what) {
  if (!ok) {
    throw PermanentError(std::string("result: ") + what);
  }
}

inline void write_string(JsonWriter& writer, std::string_view text) {
  if (text.size() > std::numeric_limits<rapidjson::SizeType>::max()) {
    throw PermanentError("result: string too long for JSON encoding");
  }
  check_written(writer.String(text.data(), static_cast<rapidjson::SizeType>(text.size())),
                "string is not valid UTF-8");
}

template <class T> struct Encoder {
  static_assert(dependent_false<T>,
                "pgtq: unsupported handler result type. Return void, bool, a number, "
                "std::string, std::string_view, std::vector<T>, std::optional<T>, "
                "std::map<std::string, T>, pgtq::Json or rapidjson::Value/Document");
};

template <class T> void encode(JsonWriter& writer, const T& value) {
  Encoder<T>::encode(writer, value);
}

template <> struct Encoder<bool> {
  static void encode(JsonWriter& writer, bool value) { writer.Bool(value); }
};

template <> struct Encoder<std::nullptr_t> {
  static void encode(JsonWriter& writer, std::nullptr_t) { writer.Null(); }
};

template <json_integer T> struct Encoder<T> {
  static void encode(JsonWriter& writer, T value) {
    if constexpr (std::is_signed_v<T>) {
      writer.Int64(value);
    } else {
      writer.Uint64(value);
    }
  }
};

template <std::floating_point T> struct Encoder<T> {
  static void encode(JsonWriter& writer, T value) {
    check_written(writer.Double(static_cast<double>(value)),
                  "NaN and infinity cannot be represented in JSON");
  }
};

template <> struct Encoder<std::string> {
  static void encode(JsonWriter& writer, const std::string& value) { write_string(writer, value); }
};

template <> struct Encoder<std::string_view> {
  static void encode(JsonWriter& writer, std::string_view value) { write_string(writer, value); }
};

// String literals and other NUL-terminated text; a null pointer is JSON null.
template <> struct Encoder<const char*> {
  static void encode(JsonWriter& writer, const char* value) {
    if (value == nullptr) {
      writer.Null();
    } else {
      write_string(writer, value);
    }
  }
};

// Reader events -> writer, keeping numbers as written (so 2.50, 1e400 or a 30-digit integer
// reach the result unchanged): the k-th number event writes the k-th number token of the
// original text, since the reader may have been given a copy with plain numbers (see
// find_numbers). RapidJSON 1.1's Writer::RawNumber would quote them.
class NumberPreservingCopy {
public:
  NumberPreservingCopy(JsonWriter& writer,
                       std::string_view text,
                       const std::vector<NumberSpan>& numbers) noexcept
      : m_writer(writer), m_text(text), m_numbers(numbers) {}

  bool all_numbers_written() const noexcept { return m_next == m_numbers.size(); }

  bool Null() { return m_writer.Null(); }
  bool Bool(bool b) { return m_writer.Bool(b); }
  bool Int(int i) { return m_writer.Int(i); }
  bool Uint(unsigned u) { return m_writer.Uint(u); }
  bool Int64(std::int64_t i) { return m_writer.Int64(i); }
  bool Uint64(std::uint64_t u) { return m_writer.Uint64(u); }
  bool Double(double d) { return m_writer.Double(d); }
  bool RawNumber(const char*, rapidjson::SizeType, bool) {
    if (m_next >= m_numbers.size()) {
      return false;
    }
    const NumberSpan span = m_numbers[m_next++];
    return m_writer.RawValue(m_text.data() + span.begin, span.size, rapidjson::kNumberType);
  }
  bool String(const char* text, rapidjson::SizeType length, bool) {
    return m_writer.String(text, length);
  }
  bool StartObject() { return m_writer.StartObject(); }
  bool Key(const char* text, rapidjson::SizeType length, bool) {
    return m_writer.Key(text, length);
  }
  bool EndObject(rapidjson::SizeType count) { return m_writer.EndObject(count); }
  bool StartArray() { return m_writer.StartArray(); }
  bool EndArray(rapidjson::SizeType count) { return m_writer.EndArray(count); }

private:
  JsonWriter& m_writer;
  std::string_view m_text;
  const std::vector<NumberSpan>& m_numbers;
  std::size_t m_next = 0;
};

// Replays the text through the writer: validates it and splices it in one pass.
template <> struct Encoder<Json> {
  static void encode(JsonWriter& writer, const Json& value) {
    const std::string& text = value.text();
    bool risky = false;
    const std::vector<NumberSpan> numbers = find_numbers(text, &risky);
    const std::string plain = risky ? with_plain_numbers(text, numbers) : std::string();
    const std::string& source = risky ? plain : text;
    rapidjson::Reader reader;
    rapidjson::StringStream stream(source.c_str());
    NumberPreservingCopy copy(writer, text, numbers);
    const auto parsed =
        reader.Parse<rapidjson::kParseNumbersAsStringsFlag | rapidjson::kParseIterativeFlag>(stream,
                                                                                             copy);
    if (parsed.IsError() || stream.Tell() != text.size() || !copy.all_numbers_written()) {
      throw PermanentError("result: pgtq::Json holds invalid JSON");
    }
  }
};

template <class T>
requires std::derived_from<T, rapidjson::Value>
struct Encoder<T> {
  static void encode(JsonWriter& writer, const rapidjson::Value& value) {
    check_written(value.Accept(writer),
                  "rapidjson value holds invalid UTF-8 or a non-finite number");
  }
};

template <class T> struct Encoder<std::optional<T>> {
  static void encode(JsonWriter& writer, const std::optional<T>& value) {
    if (value) {
      Encoder<T>::encode(writer, *value);
    } else {
      writer.Null();
    }
  }
};

template <class T, class Alloc> struct Encoder<std::vector<T, Alloc>> {
  static void encode(JsonWriter& writer, const std::vector<T, Alloc>& value) {
    writer.StartArray();
    // auto, not T: std::vector<bool> hands out proxies.
    for (const auto& element : value) {
      Encoder<T>::encode(writer, element);
    }
    writer.EndArray();
  }
};

template <class Map> void encode_object(JsonWriter& writer, const Map& value) {
  writer.StartObject();
  for (const auto& [key, element] : value) {
    write_string(writer, key);
    Encoder<typename Map::mapped_type>::encode(writer, element);
  }
  writer.EndObject();
}

template <class T, class Compare, class Alloc>
struct Encoder<std::map<std::string, T, Compare, Alloc>> {
  static void encode(JsonWriter& writer, const std::map<std::string, T, Compare, Alloc>& value) {
    encode_object(writer, value);
  }
};

template <class T, class Hash, class Equal, class Alloc>
struct Encoder<std::unordered_map<std::string, T, Hash, Equal, Alloc>> {
  static void encode(JsonWriter& writer,
                     const std::unordered_map<std::string, T, Hash, Equal, Alloc>& value) {
    encode_object(writer, value);
  }
};

template <class T> std::string encode_result(const T& value) {
  rapidjson::StringBuffer buffer;
  JsonWriter writer(buffer);
  Encoder<T>::encode(writer, value);
  return {buffer.GetString(), buffer.GetSize()};
}

} // namespace pgtq::detail

#endif
