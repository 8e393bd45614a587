#pragma once

// Reading a libpq connection string (key=value or URI form) without connecting.

#include <string>

namespace pgtq::db {

// Whether libpq can parse conninfo (keyword=value pairs or a postgresql:// URI). Checked
// before connecting because libpq's parse errors quote the text, password included.
bool is_parsable_conninfo(const std::string& conninfo);

// The conninfo string with any password replaced by "********", for log lines.
std::string redact_conninfo(const std::string& conninfo);

} // namespace pgtq::db
