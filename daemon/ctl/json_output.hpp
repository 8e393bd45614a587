#pragma once

#include "db/result.hpp"

#include <ostream>
#include <string>
#include <vector>

namespace pgtq::ctl {

// How a column of a result reads as a JSON value. The table queries give text ('' for
// none); --json turns it back into what a script expects.
enum class JsonKind {
  text,          // a string, always
  optional_text, // a string; NULL or '' is null
  number,        // the column's text as a number; NULL or '' is null
  boolean,       // true for 't' or 'yes', else false
  json,          // the column holds JSON text (jsonb::text), embedded as it is; NULL is null
};

// One member of the objects --json prints: its name, and the result column it comes from.
struct JsonField {
  std::string name;
  int column;
  JsonKind kind;
};

// Every row as a JSON object of fields, in one JSON array on one line.
void print_json_array(const db::Result& rows,
                      const std::vector<JsonField>& fields,
                      std::ostream& out);
// One row as a JSON object on one line.
void print_json_object(const db::Result& rows,
                       int row,
                       const std::vector<JsonField>& fields,
                       std::ostream& out);

} // namespace pgtq::ctl
