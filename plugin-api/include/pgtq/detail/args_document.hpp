// A task's args parsed for binding: a RapidJSON document plus the text of every number as
// it was written, so that no number is changed on its way to a handler.
//
// RapidJSON's reader refuses numbers beyond double's range (1e400, a 400-digit integer) even
// with kParseNumbersAsStringsFlag, and otherwise rounds what a 64-bit integer cannot hold.
// So the text is scanned for number tokens first (find_numbers); if the reader would refuse
// one, it parses a copy with plain numbers instead (same offsets, same validity), and every
// number event of the parse is matched, by its order, with its token in the original text
// and converted from there.
#ifndef PGTQ_DETAIL_ARGS_DOCUMENT_HPP
#define PGTQ_DETAIL_ARGS_DOCUMENT_HPP

#include "pgtq/detail/errors.hpp"
#include "pgtq/detail/json_number.hpp"

#include <rapidjson/document.h>
#include <rapidjson/encodedstream.h>
#include <rapidjson/error/en.h>
#include <rapidjson/memorystream.h>
#include <rapidjson/reader.h>
#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <string_view>
#include <system_error>
#include <unordered_map>
#include <utility>
#include <vector>

namespace pgtq::detail {

class ArgsDocument {
public:
  ArgsDocument() = default;
  ArgsDocument(const ArgsDocument&) = delete;
  ArgsDocument& operator=(const ArgsDocument&) = delete;

  // Parses text, which must outlive this object. Returns RapidJSON's reason when it is not
  // JSON. Empty text is JSON null.
  std::optional<std::string> parse(std::string_view text) {
    m_text = text;
    if (text.empty()) {
      return std::nullopt;
    }
    bool risky = false;
    m_numbers = find_numbers(text, &risky);
    const std::string copy = risky ? with_plain_numbers(text, m_numbers) : std::string();
    const std::string_view source = risky ? std::string_view(copy) : text;
    rapidjson::ParseResult result;
    bool numbers_matched = true;
    auto generate = [&](rapidjson::Document& document) {
      Forward forward{document, *this, 0};
      rapidjson::MemoryStream memory(source.data(), source.size());
      rapidjson::EncodedInputStream<rapidjson::UTF8<>, rapidjson::MemoryStream> stream(memory);
      rapidjson::Reader reader;
      result = reader.Parse<rapidjson::kParseNumbersAsStringsFlag | rapidjson::kParseIterativeFlag>(
          stream, forward);
      numbers_matched = forward.next == m_numbers.size();
      return !result.IsError() && numbers_matched;
    };
    m_document.Populate(generate);
    if (result.IsError()) {
      return std::string(rapidjson::GetParseError_En(result.Code()));
    }
    if (!numbers_matched) {
      return std::string("numbers could not be matched with their text");
    }
    return std::nullopt;
  }

  const rapidjson::Value& root() const noexcept { return m_document; }

  // The number as written in the args. number must be a value of this document.
  std::string_view number_text(const rapidjson::Value& number) const {
    index_numbers();
    const auto found = m_index.find(&number);
    if (found == m_index.end()) {
      throw DecodeError("a number outside the task's args"); // a misuse of the decoders
    }
    const NumberSpan span = m_numbers[found->second];
    return m_text.substr(span.begin, span.size);
  }

  // Compact JSON text of a value of this document, every number exactly as written.
  // Iterative, so that deep nesting cannot exhaust the stack.
  std::string exact_json(const rapidjson::Value& value) const {
    rapidjson::StringBuffer buffer;
    rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
    std::vector<Frame> open;
    write_or_open(writer, value, open);
    while (!open.empty()) {
      const rapidjson::Value& container = *open.back().value;
      const rapidjson::SizeType next = open.back().next++;
      if (container.IsArray()) {
        if (next < container.Size()) {
          write_or_open(writer, container[next], open);
        } else {
          writer.EndArray();
          open.pop_back();
        }
      } else if (next < container.MemberCount()) {
        const auto member = container.MemberBegin() + next;
        writer.Key(member->name.GetString(), member->name.GetStringLength());
        write_or_open(writer, member->value, open);
      } else {
        writer.EndObject();
        open.pop_back();
      }
    }
    return {buffer.GetString(), buffer.GetSize()};
  }

  // Throws DecodeError, locating the number, unless every number inside value is held by
  // the document exactly as written (see lossy()).
  void require_exact(const rapidjson::Value& value) const {
    if (!any_lossy()) {
      return;
    }
    walk(value, [&](const rapidjson::Value& item, const std::vector<Frame>& open) {
      if (item.IsNumber() && lossy(number_text(item))) {
        DecodeError error("number " + std::string(number_text(item)) +
                          " cannot be held exactly by rapidjson::Value; take pgtq::Json to "
                          "receive numbers as written");
        error.prepend_path(path_of(open));
        throw error;
      }
    });
  }

  // Whether the document holds this number other than as written: beyond double's range
  // (held as infinity), nearer to zero than any double (held as 0), or an integer literal
  // that neither a 64-bit integer nor a double holds exactly (held as the nearest double).
  // Other decimals are held as the nearest double, as every JSON reader does.
  static bool lossy(std::string_view text) {
    const NumberToken token = read_number(text, 0);
    if (token.is_integer_literal() && fits_64_bits(text)) {
      return false;
    }
    double value = 0;
    return to_floating(text, token, value) != FloatFit::ok;
  }

private:
  struct Frame {
    const rapidjson::Value* value;
    rapidjson::SizeType next;
  };

  // Calls visit(item, open) for root and every value inside it, in document order, without
  // recursion (a document may nest deeper than a thread's stack); open holds the containers
  // around item, each with the index of its next child.
  template <class Visit> static void walk(const rapidjson::Value& root, Visit&& visit) {
    std::vector<Frame> open;
    const auto enter = [&](const rapidjson::Value& item) {
      visit(item, open);
      if (item.IsArray() || item.IsObject()) {
        open.push_back({&item, 0});
      }
    };
    enter(root);
    while (!open.empty()) {
      const rapidjson::Value& container = *open.back().value;
      const rapidjson::SizeType next = open.back().next++;
      const rapidjson::SizeType count =
          container.IsArray() ? container.Size() : container.MemberCount();
      if (next >= count) {
        open.pop_back();
      } else {
        enter(container.IsArray() ? container[next] : (container.MemberBegin() + next)->value);
      }
    }
  }

  // Forwards reader events to the document, numbers converted from their own text.
  struct Forward {
    rapidjson::Document& document;
    const ArgsDocument& args;
    std::size_t next;

    bool Null() { return document.Null(); }
    bool Bool(bool b) { return document.Bool(b); }
    bool Int(int i) { return document.Int(i); }
    bool Uint(unsigned u) { return document.Uint(u); }
    bool Int64(std::int64_t i) { return document.Int64(i); }
    bool Uint64(std::uint64_t u) { return document.Uint64(u); }
    bool Double(double d) { return document.Double(d); }
    bool RawNumber(const char*, rapidjson::SizeType, bool) {
      if (next >= args.m_numbers.size()) {
        return false;
      }
      const NumberSpan span = args.m_numbers[next++];
      return args.add_number(document, args.m_text.substr(span.begin, span.size));
    }
    bool String(const char* text, rapidjson::SizeType length, bool copy) {
      return document.String(text, length, copy);
    }
    bool StartObject() { return document.StartObject(); }
    bool Key(const char* text, rapidjson::SizeType length, bool copy) {
      return document.Key(text, length, copy);
    }
    bool EndObject(rapidjson::SizeType count) { return document.EndObject(count); }
    bool StartArray() { return document.StartArray(); }
    bool EndArray(rapidjson::SizeType count) { return document.EndArray(count); }
  };

  static bool fits_64_bits(std::string_view text) {
    const char* end = text.data() + text.size();
    if (text.front() == '-') {
      std::int64_t value = 0;
      const auto parsed = std::from_chars(text.data(), end, value);
      return parsed.ec == std::errc() && parsed.ptr == end;
    }
    std::uint64_t value = 0;
    const auto parsed = std::from_chars(text.data(), end, value);
    return parsed.ec == std::errc() && parsed.ptr == end;
  }

  // Integer literals that fit stay 64-bit integers (as RapidJSON would hold them); everything
  // else becomes the nearest double, infinity beyond the range, zero below it.
  bool add_number(rapidjson::Document& document, std::string_view text) const {
    const NumberToken token = read_number(text, 0);
    const char* end = text.data() + text.size();
    if (token.is_integer_literal()) {
      if (token.negative) {
        std::int64_t value = 0;
        const auto parsed = std::from_chars(text.data(), end, value);
        if (parsed.ec == std::errc() && parsed.ptr == end) {
          return document.Int64(value);
        }
      } else {
        std::uint64_t value = 0;
        const auto parsed = std::from_chars(text.data(), end, value);
        if (parsed.ec == std::errc() && parsed.ptr == end) {
          return document.Uint64(value);
        }
      }
    }
    double value = 0;
    switch (to_floating(text, token, value)) {
    case FloatFit::ok:
    case FloatFit::inexact:
      return document.Double(value);
    case FloatFit::overflow:
      return document.Double(token.negative ? -HUGE_VAL : HUGE_VAL);
    case FloatFit::underflow:
      return document.Double(token.negative ? -0.0 : 0.0);
    }
    return false;
  }

  // Maps each number value to its token: a pre-order walk meets numbers in text order.
  // Built on first use, as most handlers never ask.
  void index_numbers() const {
    if (m_indexed) {
      return;
    }
    m_indexed = true;
    std::size_t ordinal = 0;
    walk(m_document, [&](const rapidjson::Value& item, const std::vector<Frame>&) {
      if (item.IsNumber()) {
        m_index.emplace(&item, ordinal++);
      }
    });
  }

  bool any_lossy() const {
    if (!m_any_lossy.has_value()) {
      bool any = false;
      for (std::size_t i = 0; i < m_numbers.size() && !any; ++i) {
        any = lossy(m_text.substr(m_numbers[i].begin, m_numbers[i].size));
      }
      m_any_lossy = any;
    }
    return *m_any_lossy;
  }

  // "[2]["id"]" for the item about to be visited below the open containers.
  static std::string path_of(const std::vector<Frame>& open) {
    std::string path;
    for (const Frame& frame : open) {
      const rapidjson::SizeType index = frame.next - 1;
      if (frame.value->IsArray()) {
        path += "[" + std::to_string(index) + "]";
      } else {
        const rapidjson::Value& name = (frame.value->MemberBegin() + index)->name;
        rapidjson::StringBuffer buffer;
        rapidjson::Writer<rapidjson::StringBuffer> writer(buffer);
        name.Accept(writer);
        path += "[" + std::string(buffer.GetString(), buffer.GetSize()) + "]";
      }
    }
    return path;
  }

  void write_or_open(rapidjson::Writer<rapidjson::StringBuffer>& writer,
                     const rapidjson::Value& value,
                     std::vector<Frame>& open) const {
    switch (value.GetType()) {
    case rapidjson::kNullType:
      writer.Null();
      break;
    case rapidjson::kFalseType:
      writer.Bool(false);
      break;
    case rapidjson::kTrueType:
      writer.Bool(true);
      break;
    case rapidjson::kStringType:
      writer.String(value.GetString(), value.GetStringLength());
      break;
    case rapidjson::kNumberType: {
      const std::string_view text = number_text(value);
      writer.RawValue(text.data(), text.size(), rapidjson::kNumberType);
      break;
    }
    case rapidjson::kArrayType:
      writer.StartArray();
      open.push_back({&value, 0});
      break;
    case rapidjson::kObjectType:
      writer.StartObject();
      open.push_back({&value, 0});
      break;
    }
  }

  std::string_view m_text;
  rapidjson::Document m_document;
  std::vector<NumberSpan> m_numbers; // every number token, in text order
  mutable bool m_indexed = false;
  mutable std::unordered_map<const rapidjson::Value*, std::size_t> m_index;
  mutable std::optional<bool> m_any_lossy;
};

} // namespace pgtq::detail

#endif
