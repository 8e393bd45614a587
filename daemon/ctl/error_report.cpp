#include "ctl/error_report.hpp"

#include "ctl/session.hpp"
#include "db/migrator.hpp"

#include <sstream>

namespace pgtq::ctl {
namespace {

bool starts_with(const std::string& text, const char* prefix) {
  return text.rfind(prefix, 0) == 0;
}

// A statement's name as db::Connection puts it before libpq's text ("pgtq_push", "script"):
// one word of letters, digits and '_'.
bool is_word(const std::string& text) {
  return !text.empty() && text.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRST"
                                                 "UVWXYZ0123456789_") == std::string::npos;
}

// "migration 0003_x.sql failed: pgtq_push: ERROR:  boom" -> "migration 0003_x.sql failed: boom".
// libpq writes the severity (the server's, maybe translated: ERROR, FATAL, FEHLER) then ":  ";
// the statement names db::Connection put before it go, what a caller wrote before them stays.
std::string without_severity(const std::string& line) {
  const std::size_t mark = line.find(":  ");
  if (mark == std::string::npos) {
    return line;
  }
  std::size_t start = line.rfind(' ', mark);
  start = start == std::string::npos ? 0 : start + 1;
  if (!is_word(line.substr(start, mark - start))) {
    return line;
  }
  std::string prefix = line.substr(0, start);
  // Drop the statement names: "pgtq_push: ", "script: ".
  while (prefix.size() >= 2 && prefix.compare(prefix.size() - 2, 2, ": ") == 0) {
    const std::size_t word_end = prefix.size() - 2;
    const std::size_t space = prefix.rfind(' ', word_end == 0 ? 0 : word_end - 1);
    const std::size_t word_start = space == std::string::npos ? 0 : space + 1;
    // A whole part of its own ("failed: " in "connection to server ... failed: " is not).
    const bool whole = word_start == 0 || (word_start >= 2 && prefix[word_start - 2] == ':');
    if (!whole || !is_word(prefix.substr(word_start, word_end - word_start))) {
      break;
    }
    prefix.erase(word_start);
  }
  return prefix + line.substr(mark + 3);
}

} // namespace

ErrorReport parse_error_text(const std::string& text) {
  ErrorReport report;
  std::istringstream lines(text);
  std::string line;
  std::getline(lines, line);
  report.message = without_severity(line);
  // Lines after the first: a field label starts each part; lines without one continue it.
  enum class Part { message, detail, hint, skipped } part = Part::message;
  bool after_position = false;
  while (std::getline(lines, line)) {
    if (after_position) {
      after_position = false; // the caret under "LINE n:"
      continue;
    }
    if (starts_with(line, "LINE ")) {
      part = Part::skipped;
      after_position = true;
    } else if (starts_with(line, "DETAIL:  ")) {
      part = Part::detail;
      report.detail = line.substr(9);
    } else if (starts_with(line, "HINT:  ")) {
      part = Part::hint;
      report.hint = line.substr(7);
    } else if (starts_with(line, "QUERY:  ") || starts_with(line, "CONTEXT:  ") ||
               starts_with(line, "LOCATION:  ") || starts_with(line, "STATEMENT:  ") ||
               line.find(" NAME:  ") != std::string::npos) {
      part = Part::skipped; // the statement inside a function, the call stack, names
    } else if (part == Part::message) {
      report.message += '\n' + line;
    } else if (part == Part::detail) {
      *report.detail += '\n' + line;
    } else if (part == Part::hint) {
      *report.hint += '\n' + line;
    }
  }
  return report;
}

bool means_unmigrated(const std::string& sqlstate) {
  // invalid_schema_name, undefined_function, undefined_table, undefined_object (a type).
  return sqlstate == "3F000" || sqlstate == "42883" || sqlstate == "42P01" || sqlstate == "42704";
}

void report_error(const db::PgError& error,
                  const std::optional<std::string>& dsn,
                  std::ostream& err) {
  const ErrorReport report = parse_error_text(error.what());
  err << "pgtqctl: " << report.message;
  if (!error.sqlstate().empty()) {
    err << " (SQLSTATE " << error.sqlstate() << ")";
  }
  err << '\n';
  if (report.detail) {
    err << "DETAIL: " << *report.detail << '\n';
  }
  if (report.hint) {
    err << "HINT: " << *report.hint << '\n';
  }
  if (!dsn || !means_unmigrated(error.sqlstate())) {
    return;
  }
  try {
    db::Connection connection = connect(*dsn);
    const db::SchemaStatus status = db::Migrator().status(connection);
    if (status.database_version == 0) {
      err << "HINT: the database has no pgtq schema: run `pgtqctl migrate` first\n";
    } else if (status.database_version < status.known_version) {
      err << "HINT: the database's pgtq schema is at version " << status.database_version
          << ", this pgtqctl needs " << status.known_version << ": run `pgtqctl migrate` first\n";
    }
  } catch (const std::exception&) {
    // The error above is what matters; the hint is a guess that could not be checked.
  }
}

} // namespace pgtq::ctl
