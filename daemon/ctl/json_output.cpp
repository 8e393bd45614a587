#include "ctl/json_output.hpp"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

namespace pgtq::ctl {
namespace {

using Writer = rapidjson::Writer<rapidjson::StringBuffer>;

void write_value(Writer& writer, const db::Result& rows, int row, const JsonField& field) {
  const std::string_view text = rows.text(row, field.column);
  const auto size = static_cast<rapidjson::SizeType>(text.size());
  // '' is what the table queries print for none; jsonb text is never empty.
  const bool absent = rows.is_null(row, field.column) || text.empty();
  if (field.kind == JsonKind::text) {
    writer.String(text.data(), size);
  } else if (field.kind == JsonKind::boolean) {
    writer.Bool(text == "t" || text == "yes");
  } else if (absent) {
    writer.Null();
  } else if (field.kind == JsonKind::optional_text) {
    writer.String(text.data(), size);
  } else {
    // Numbers as PostgreSQL prints them are JSON numbers; jsonb's text is JSON: both are
    // embedded as they are, not parsed and written again.
    writer.RawValue(text.data(),
                    size,
                    field.kind == JsonKind::number ? rapidjson::kNumberType
                                                   : rapidjson::kObjectType);
  }
}

void write_object(Writer& writer,
                  const db::Result& rows,
                  int row,
                  const std::vector<JsonField>& fields) {
  writer.StartObject();
  for (const JsonField& field : fields) {
    writer.Key(field.name.data(), static_cast<rapidjson::SizeType>(field.name.size()));
    write_value(writer, rows, row, field);
  }
  writer.EndObject();
}

} // namespace

void print_json_array(const db::Result& rows,
                      const std::vector<JsonField>& fields,
                      std::ostream& out) {
  rapidjson::StringBuffer buffer;
  Writer writer(buffer);
  writer.StartArray();
  for (int row = 0; row < rows.rows(); ++row) {
    write_object(writer, rows, row, fields);
  }
  writer.EndArray();
  out << buffer.GetString() << '\n';
}

void print_json_object(const db::Result& rows,
                       int row,
                       const std::vector<JsonField>& fields,
                       std::ostream& out) {
  rapidjson::StringBuffer buffer;
  Writer writer(buffer);
  write_object(writer, rows, row, fields);
  out << buffer.GetString() << '\n';
}

} // namespace pgtq::ctl
