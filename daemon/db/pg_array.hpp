#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace pgtq::db {

// PostgreSQL array literals for passing arrays as one text parameter ($1::bigint[]).
std::string array_literal(const std::vector<std::int64_t>& values);
std::string array_literal(const std::vector<std::int32_t>& values);
// Every element double-quoted, with " and \ escaped, so any text survives.
std::string array_literal(const std::vector<std::string>& values);

} // namespace pgtq::db
