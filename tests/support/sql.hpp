#pragma once

#include "db/connection.hpp"

#include <libpq-fe.h>

#include <initializer_list>
#include <optional>
#include <stdexcept>
#include <string>

namespace pgtq::test {

// Runs a parameterised statement on a test connection; throws with the server's message.
inline db::Result query(db::Connection& connection,
                        const std::string& sql,
                        std::initializer_list<std::string> params = {}) {
  std::vector<const char*> values;
  for (const std::string& param : params) {
    values.push_back(param.c_str());
  }
  db::Result result(PQexecParams(connection.native(),
                                 sql.c_str(),
                                 static_cast<int>(values.size()),
                                 nullptr,
                                 values.data(),
                                 nullptr,
                                 nullptr,
                                 0));
  const auto status = PQresultStatus(result.get());
  if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) {
    throw std::runtime_error(sql + ": " + PQresultErrorMessage(result.get()));
  }
  return result;
}

// The first column of the first row, or "" when there is no row (NULL reads as "").
inline std::string scalar(db::Connection& connection,
                          const std::string& sql,
                          std::initializer_list<std::string> params = {}) {
  const db::Result result = query(connection, sql, params);
  return result.rows() == 0 ? std::string() : result.string(0, 0);
}

inline long long count(db::Connection& connection,
                       const std::string& sql,
                       std::initializer_list<std::string> params = {}) {
  return std::stoll(scalar(connection, sql, params));
}

} // namespace pgtq::test
