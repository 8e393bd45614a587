#pragma once

// Running one parameterised statement on the caller's connection, and the text forms of
// the values the statements take.

#include "pgtq/client/error.hpp"
#include "pgtq/plugin.h" // PGTQ_MAX_DELAY_SECONDS only: plain C, no dependencies

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
// session's TimeZone. A time_point more than 100 years from now is refused by push() before
// anything is sent; text is checked by the server.
class Timestamp {
public:
  Timestamp(const char* text) : m_text(text) {}        // NOLINT: implicit by design
  Timestamp(std::string_view text) : m_text(text) {}   // NOLINT
  Timestamp(const std::string& text) : m_text(text) {} // NOLINT
  template <class Duration>
  Timestamp(std::chrono::time_point<std::chrono::system_clock, Duration> when) // NOLINT
      : m_since_epoch_s(std::chrono::duration<double>(when.time_since_epoch()).count()),
        m_text(in_text_range(*m_since_epoch_s)
                   ? utc_text(std::chrono::duration_cast<std::chrono::microseconds>(
                         when.time_since_epoch()))
                   : "(a time beyond any calendar)") {}

  const std::string& text() const noexcept { return m_text; }
  // Seconds since 1970-01-01 UTC for a time_point; none for text.
  const std::optional<double>& since_epoch_s() const noexcept { return m_since_epoch_s; }

private:
  // Where microseconds since the epoch still fit 64 bits (about 285,000 years either way).
  static bool in_text_range(double seconds) { return seconds > -9e12 && seconds < 9e12; }

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
    std::snprintf(buffer,
                  sizeof buffer,
                  "%04lld-%02lld-%02lld %02lld:%02lld:%02lld.%06lld+00",
                  static_cast<long long>(year),
                  static_cast<long long>(month),
                  static_cast<long long>(day),
                  static_cast<long long>(in_day / 3'600'000'000),
                  static_cast<long long>(in_day / 60'000'000 % 60),
                  static_cast<long long>(in_day / 1'000'000 % 60),
                  static_cast<long long>(in_day % 1'000'000));
    return buffer;
  }

  std::optional<double> m_since_epoch_s;
  std::string m_text;
};

// A length of time for PushOptions::delay: any std::chrono::duration, integral or floating
// point (std::chrono::minutes(5), std::chrono::duration<double>(1.5)). Sent in whole
// microseconds (a floating-point one is truncated toward zero). push() refuses, before
// anything is sent, one that is negative, NaN, infinite or longer than 100 years.
class Delay {
public:
  template <class Rep, class Period>
  Delay(std::chrono::duration<Rep, Period> duration) // NOLINT: implicit by design
      : m_seconds(std::chrono::duration<double>(duration).count()) {
    // Converted only where microseconds fit 64 bits, so that the cast cannot overflow.
    if (m_seconds > -1e12 && m_seconds < 1e12) {
      m_microseconds = std::chrono::duration_cast<std::chrono::microseconds>(duration);
    }
  }

  // The length in seconds, as given (NaN and infinity included).
  double seconds() const noexcept { return m_seconds; }
  // The length in microseconds; none when it is NaN, infinite or beyond a million seconds
  // times a million.
  const std::optional<std::chrono::microseconds>& microseconds() const noexcept {
    return m_microseconds;
  }

private:
  double m_seconds;
  std::optional<std::chrono::microseconds> m_microseconds;
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
  // pgtq's functions name themselves ("pgtq.retry_all: max_count must ..."): not twice.
  if (message.compare(0, what.size() + 1, std::string(what) + ":") == 0) {
    throw Error(std::move(sqlstate), message);
  }
  throw Error(std::move(sqlstate), std::string(what) + ": " + message);
}

// Runs sql with text parameters and returns its rows (an unnamed statement: parsed and
// planned on every call).
inline ResultPtr exec(PGconn* conn,
                      std::string_view what,
                      const std::string& sql,
                      const std::vector<Param>& params) {
  require_connection(conn, what);
  const std::vector<const char*> values = param_values(params);
  return checked(conn,
                 what,
                 ResultPtr(PQexecParams(conn,
                                        sql.c_str(),
                                        static_cast<int>(values.size()),
                                        nullptr,
                                        values.data(),
                                        nullptr,
                                        nullptr,
                                        0),
                           &PQclear));
}

// Runs the statement prepared on this connection under `name`.
inline ResultPtr exec_prepared(PGconn* conn,
                               std::string_view what,
                               const std::string& name,
                               const std::vector<Param>& params) {
  require_connection(conn, what);
  const std::vector<const char*> values = param_values(params);
  return checked(conn,
                 what,
                 ResultPtr(PQexecPrepared(conn,
                                          name.c_str(),
                                          static_cast<int>(values.size()),
                                          values.data(),
                                          nullptr,
                                          nullptr,
                                          0),
                           &PQclear));
}

inline std::int64_t int64_at(const PGresult* result, int row, int column) {
  const char* text = PQgetvalue(result, row, column);
  const std::string_view view(text);
  std::int64_t value = 0;
  const auto [end, status] = std::from_chars(view.data(), view.data() + view.size(), value);
  if (status != std::errc() || end != view.data() + view.size()) {
    throw Error("XX000",
                "pgtq: expected an integer from the server, got \"" + std::string(view) + "\"");
  }
  return value;
}

inline bool bool_at(const PGresult* result, int row, int column) {
  return PQgetisnull(result, row, column) == 0 && PQgetvalue(result, row, column)[0] == 't';
}

// A text column, unset for NULL.
inline std::optional<std::string> optional_text_at(const PGresult* result, int row, int column) {
  if (PQgetisnull(result, row, column) != 0) {
    return std::nullopt;
  }
  return std::string(PQgetvalue(result, row, column),
                     static_cast<std::size_t>(PQgetlength(result, row, column)));
}

// PostgreSQL reads "<n> microseconds" as an interval exactly, whatever the IntervalStyle.
inline std::string interval_text(std::chrono::microseconds duration) {
  return std::to_string(duration.count()) + " microseconds";
}

// PGTQ_MAX_DELAY_SECONDS (100 years) as a duration.
inline constexpr std::chrono::microseconds k_max_delay{
    static_cast<std::int64_t>(PGTQ_MAX_DELAY_SECONDS) * 1'000'000};

// "-5 s", "1.5 s", "3155760000.000001 s": exact, for messages.
inline std::string seconds_text(std::chrono::microseconds duration) {
  const std::int64_t us = duration.count();
  const std::uint64_t magnitude =
      us < 0 ? 0 - static_cast<std::uint64_t>(us) : static_cast<std::uint64_t>(us);
  std::string text = (us < 0 ? "-" : "") + std::to_string(magnitude / 1'000'000);
  if (const std::uint64_t fraction = magnitude % 1'000'000; fraction != 0) {
    std::string digits = std::to_string(fraction);
    digits.insert(0, 6 - digits.size(), '0');
    digits.erase(digits.find_last_not_of('0') + 1);
    text += "." + digits;
  }
  return text + " s";
}

} // namespace detail
} // namespace pgtq
