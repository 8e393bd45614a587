#pragma once

// Running one parameterised statement on the caller's connection, and the text forms of
// the values the statements take.

#include "pgtq/client/error.hpp"

#include <libpq-fe.h>

#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace pgtq {

// A point in time for PushOptions::run_at: a time_point, or any text PostgreSQL accepts as
// timestamptz ("2030-01-01 09:00:00+02", "tomorrow"). Text without a zone is read in the
// session's TimeZone.
class Timestamp {
public:
  Timestamp(const char* text) : m_text(text) {}              // NOLINT: implicit by design
  Timestamp(std::string_view text) : m_text(text) {}         // NOLINT
  Timestamp(const std::string& text) : m_text(text) {}       // NOLINT
  template <class Duration>
  Timestamp(std::chrono::time_point<std::chrono::system_clock, Duration> when) // NOLINT
      : m_text(utc_text(std::chrono::duration_cast<std::chrono::microseconds>(
            when.time_since_epoch()))) {}

  const std::string& text() const noexcept { return m_text; }

private:
  // ISO 8601 in UTC with microseconds, from the days-to-civil algorithm by Howard Hinnant
  // (C++17 has no calendar types).
  static std::string utc_text(std::chrono::microseconds since_epoch) {
    constexpr std::int64_t k_day = 86'400'000'000;
    const std::int64_t us = since_epoch.count();
    std::int64_t days = us / k_day;
    std::int64_t in_day = us % k_day;
    if (in_day < 0) {
      in_day += k_day;
      --days;
    }
    days += 719468;
    const std::int64_t era = (days >= 0 ? days : days - 146096) / 146097;
    const std::int64_t doe = days - era * 146097;
    const std::int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const std::int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const std::int64_t mp = (5 * doy + 2) / 153;
    const std::int64_t day = doy - (153 * mp + 2) / 5 + 1;
    const std::int64_t month = mp < 10 ? mp + 3 : mp - 9;
    const std::int64_t year = yoe + era * 400 + (month <= 2 ? 1 : 0);
    char buffer[64];
    std::snprintf(buffer, sizeof buffer, "%04lld-%02lld-%02lld %02lld:%02lld:%02lld.%06lld+00",
                  static_cast<long long>(year), static_cast<long long>(month),
                  static_cast<long long>(day), static_cast<long long>(in_day / 3'600'000'000),
                  static_cast<long long>(in_day / 60'000'000 % 60),
                  static_cast<long long>(in_day / 1'000'000 % 60),
                  static_cast<long long>(in_day % 1'000'000));
    return buffer;
  }

  std::string m_text;
};

namespace detail {

using ResultPtr = std::unique_ptr<PGresult, decltype(&PQclear)>;
// A text parameter, or SQL NULL.
using Param = std::optional<std::string>;

inline std::string trimmed(const char* message) {
  std::string text = message == nullptr ? "" : message;
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) {
    text.pop_back();
  }
  return text;
}

inline void require_connection(PGconn* conn, std::string_view what) {
  if (conn == nullptr) {
    throw Error("08003", std::string(what) + ": no connection (null PGconn*)");
  }
}

inline std::vector<const char*> param_values(const std::vector<Param>& params) {
  std::vector<const char*> values;
  values.reserve(params.size());
  for (const Param& param : params) {
    values.push_back(param ? param->c_str() : nullptr);
  }
  return values;
}

// Returns a successful result; throws pgtq::Error naming `what` and carrying the server's
// SQLSTATE and primary message for any other.
inline ResultPtr checked(PGconn* conn, std::string_view what, ResultPtr result) {
  const ExecStatusType status =
      result == nullptr ? PGRES_FATAL_ERROR : PQresultStatus(result.get());
  if (status == PGRES_TUPLES_OK || status == PGRES_COMMAND_OK) {
    return result;
  }
  const char* state =
      result == nullptr ? nullptr : PQresultErrorField(result.get(), PG_DIAG_SQLSTATE);
  std::string sqlstate = state == nullptr ? "" : state;
  if (sqlstate.empty() && PQstatus(conn) != CONNECTION_OK) {
    sqlstate = "08006";
  }
  const char* primary =
      result == nullptr ? nullptr : PQresultErrorField(result.get(), PG_DIAG_MESSAGE_PRIMARY);
  std::string message = trimmed(primary != nullptr ? primary : PQerrorMessage(conn));
  if (message.empty()) {
    message = std::string("unexpected result ") + PQresStatus(status);
  }
  throw Error(std::move(sqlstate), std::string(what) + ": " + message);
}

// Runs sql with text parameters and returns its rows (an unnamed statement: parsed and
// planned on every call).
inline ResultPtr exec(PGconn* conn, std::string_view what, const std::string& sql,
                      const std::vector<Param>& params) {
  require_connection(conn, what);
  const std::vector<const char*> values = param_values(params);
  return checked(conn, what,
                 ResultPtr(PQexecParams(conn, sql.c_str(), static_cast<int>(values.size()),
                                        nullptr, values.data(), nullptr, nullptr, 0),
                           &PQclear));
}

// Runs the statement prepared on this connection under `name`.
inline ResultPtr exec_prepared(PGconn* conn, std::string_view what, const std::string& name,
                               const std::vector<Param>& params) {
  require_connection(conn, what);
  const std::vector<const char*> values = param_values(params);
  return checked(conn, what,
                 ResultPtr(PQexecPrepared(conn, name.c_str(), static_cast<int>(values.size()),
                                          values.data(), nullptr, nullptr, 0),
                           &PQclear));
}

inline std::int64_t int64_at(const PGresult* result, int row, int column) {
  const char* text = PQgetvalue(result, row, column);
  const std::string_view view(text);
  std::int64_t value = 0;
  const auto [end, status] = std::from_chars(view.data(), view.data() + view.size(), value);
  if (status != std::errc() || end != view.data() + view.size()) {
    throw Error("XX000", "pgtq: expected an integer from the server, got \"" + std::string(view) +
                             "\"");
  }
  return value;
}

inline bool bool_at(const PGresult* result, int row, int column) {
  return PQgetisnull(result, row, column) == 0 && PQgetvalue(result, row, column)[0] == 't';
}

// PostgreSQL reads "<n> microseconds" as an interval exactly, whatever the IntervalStyle.
inline std::string interval_text(std::chrono::microseconds duration) {
  return std::to_string(duration.count()) + " microseconds";
}

} // namespace detail
} // namespace pgtq
