#pragma once

#include <string_view>
#include <vector>

namespace pgtq::db {

// One file of sql/migrations, embedded at build time.
struct Migration {
  int version;
  std::string_view file_name;
  std::string_view sql;
};

// In version order.
const std::vector<Migration>& embedded_migrations();

} // namespace pgtq::db
