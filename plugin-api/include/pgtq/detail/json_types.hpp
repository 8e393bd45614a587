// Types that hand raw JSON to and from a handler, for data no fixed C++ type describes.
#ifndef PGTQ_DETAIL_JSON_TYPES_HPP
#define PGTQ_DETAIL_JSON_TYPES_HPP

#include <rapidjson/document.h>

#include <string>
#include <string_view>
#include <utility>

namespace pgtq {

// JSON text. As a parameter it receives one argument, re-serialised compactly with every
// number exactly as written (1e400, 2.50 and 30-digit integers arrive unchanged); as a return
// value, or inside one, it is embedded after a check that it is valid JSON, with whitespace
// dropped and numbers kept as written.
class Json {
public:
  Json() = default;
  explicit Json(std::string text) : m_text(std::move(text)) {}

  const std::string& text() const noexcept { return m_text; }

  friend bool operator==(const Json&, const Json&) = default;

private:
  std::string m_text{"null"};
};

// All of a task's args, unchecked: a handler whose only parameter (besides Context) is Args
// accepts any array or object. Both views are BORROWED: valid until the handler returns.
// text() is the args byte for byte. json() holds numbers as RapidJSON can: integer literals
// that fit 64 bits exactly, everything else as the nearest double, so a number beyond
// double's range is +-infinity there and one nearer to zero than any double is 0; read such
// numbers from text().
class Args {
public:
  Args(std::string_view text, const rapidjson::Value& value) noexcept
      : m_text(text), m_value(&value) {}

  std::string_view text() const noexcept { return m_text; }
  const rapidjson::Value& json() const noexcept { return *m_value; }

private:
  std::string_view m_text;
  const rapidjson::Value* m_value;
};

} // namespace pgtq

#endif
