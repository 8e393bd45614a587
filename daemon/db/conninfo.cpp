#include "db/conninfo.hpp"

#include <libpq-fe.h>

#include <cstring>
#include <string_view>

namespace pgtq::db {

bool is_parsable_conninfo(const std::string& conninfo) {
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(conninfo.c_str(), &error);
  PQfreemem(error);
  if (options == nullptr) {
    return false;
  }
  PQconninfoFree(options);
  return true;
}

std::string redact_conninfo(const std::string& conninfo) {
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(conninfo.c_str(), &error);
  if (options == nullptr) {
    PQfreemem(error);
    return "(unparsable conninfo)";
  }
  // libpq's parse covers both forms (a URI's user:password@ included). Which keywords are
  // secret is libpq's to say: dispchar "*" marks password, sslpassword and whatever later
  // versions add, so a new secret keyword is hidden without a change here.
  auto is_secret = [](const PQconninfoOption& option) {
    return (option.dispchar != nullptr && option.dispchar[0] == '*') ||
           std::strcmp(option.keyword, "password") == 0;
  };
  // Values are quoted as conninfo quotes them, so that "a b" cannot pass for two settings.
  auto quoted = [](const char* value) {
    const std::string_view text(value);
    if (text.find_first_of(" \t\n\r\\'") == std::string_view::npos) {
      return std::string(text);
    }
    std::string out = "'";
    for (const char c : text) {
      if (c == '\\' || c == '\'') {
        out += '\\';
      }
      out += c;
    }
    return out + "'";
  };
  std::string redacted;
  for (PQconninfoOption* option = options; option->keyword != nullptr; ++option) {
    if (option->val == nullptr || option->val[0] == '\0') {
      continue;
    }
    if (!redacted.empty()) {
      redacted += ' ';
    }
    redacted += option->keyword;
    redacted += '=';
    redacted += is_secret(*option) ? "********" : quoted(option->val);
  }
  PQconninfoFree(options);
  return redacted.empty() ? "(PG* environment defaults)" : redacted;
}

} // namespace pgtq::db
