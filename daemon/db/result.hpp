#pragma once

#include <libpq-fe.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace pgtq::db {

// Owns one PGresult. Move-only; rows and columns are indexed from 0.
class Result {
public:
  explicit Result(PGresult* result) : m_result(result, &PQclear) {}

  int rows() const { return PQntuples(m_result.get()); }
  int columns() const { return PQnfields(m_result.get()); }
  bool is_null(int row, int column) const { return PQgetisnull(m_result.get(), row, column) != 0; }
  std::string_view text(int row, int column) const;
  std::string string(int row, int column) const { return std::string(text(row, column)); }
  std::int64_t int64(int row, int column) const;
  std::optional<std::string> optional_string(int row, int column) const;
  PGresult* get() const { return m_result.get(); }

private:
  std::unique_ptr<PGresult, decltype(&PQclear)> m_result;
};

} // namespace pgtq::db
