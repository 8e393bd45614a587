#pragma once

// The little libpq the benchmark needs: an owning connection and "run this, fail loudly".

#include <libpq-fe.h>

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace pgtq::bench {

using PgResultPtr = std::unique_ptr<PGresult, decltype(&PQclear)>;

class Pg {
public:
  explicit Pg(const std::string& dsn) : m_conn(PQconnectdb(dsn.c_str()), &PQfinish) {
    if (PQstatus(m_conn.get()) != CONNECTION_OK) {
      throw std::runtime_error("connect: " + std::string(PQerrorMessage(m_conn.get())));
    }
  }

  PGconn* get() const { return m_conn.get(); }

  PgResultPtr exec(const std::string& sql, const std::vector<std::string>& params = {}) {
    std::vector<const char*> values;
    for (const std::string& param : params) {
      values.push_back(param.c_str());
    }
    return checked(PQexecParams(m_conn.get(),
                                sql.c_str(),
                                static_cast<int>(values.size()),
                                nullptr,
                                values.data(),
                                nullptr,
                                nullptr,
                                0),
                   sql);
  }

  void prepare(const std::string& name, const std::string& sql) {
    checked(PQprepare(m_conn.get(), name.c_str(), sql.c_str(), 0, nullptr), sql);
  }

  PgResultPtr exec_prepared(const std::string& name, const std::vector<const char*>& values) {
    return checked(PQexecPrepared(m_conn.get(),
                                  name.c_str(),
                                  static_cast<int>(values.size()),
                                  values.data(),
                                  nullptr,
                                  nullptr,
                                  0),
                   name);
  }

  // The first column of the first row, as text.
  std::string value(const std::string& sql, const std::vector<std::string>& params = {}) {
    const PgResultPtr result = exec(sql, params);
    return PQntuples(result.get()) > 0 ? PQgetvalue(result.get(), 0, 0) : "";
  }

  long long number(const std::string& sql, const std::vector<std::string>& params = {}) {
    return std::stoll(value(sql, params));
  }

private:
  PgResultPtr checked(PGresult* raw, const std::string& what) {
    PgResultPtr result(raw, &PQclear);
    const ExecStatusType status = raw == nullptr ? PGRES_FATAL_ERROR : PQresultStatus(raw);
    if (status != PGRES_TUPLES_OK && status != PGRES_COMMAND_OK) {
      throw std::runtime_error(what + ": " + PQerrorMessage(m_conn.get()));
    }
    return result;
  }

  std::unique_ptr<PGconn, decltype(&PQfinish)> m_conn;
};

} // namespace pgtq::bench
