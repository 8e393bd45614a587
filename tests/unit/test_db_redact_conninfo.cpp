#include "db/conninfo.hpp"

#include <doctest/doctest.h>
#include <libpq-fe.h>

#include <algorithm>
#include <string>
#include <vector>

using pgtq::db::redact_conninfo;

TEST_CASE("redact_conninfo hides the password and keeps the rest") {
  SUBCASE("keyword=value") {
    const std::string shown = redact_conninfo("host=db.example port=5433 user=app password=s3cret");
    CHECK(shown.find("s3cret") == std::string::npos);
    CHECK(shown.find("password=********") != std::string::npos);
    CHECK(shown.find("host=db.example") != std::string::npos);
    CHECK(shown.find("port=5433") != std::string::npos);
  }
  SUBCASE("URI") {
    const std::string shown = redact_conninfo("postgresql://app:s3cret@db.example:5433/jobs");
    CHECK(shown.find("s3cret") == std::string::npos);
    CHECK(shown.find("dbname=jobs") != std::string::npos);
  }
  SUBCASE("empty means the environment") {
    CHECK(redact_conninfo("") == "(PG* environment defaults)");
  }
  SUBCASE("garbage is not echoed back") {
    CHECK(redact_conninfo("password='unterminated") == "(unparsable conninfo)");
  }
}

TEST_CASE("redact_conninfo hides every secret libpq knows, in both forms") {
  // Each keyword libpq's own defaults mark as secret (dispchar "*"), whatever this libpq
  // version has: sslpassword since PostgreSQL 13, more may come.
  std::vector<std::string> secrets;
  PQconninfoOption* defaults = PQconndefaults();
  REQUIRE(defaults != nullptr);
  for (PQconninfoOption* option = defaults; option->keyword != nullptr; ++option) {
    if (option->dispchar != nullptr && option->dispchar[0] == '*') {
      secrets.emplace_back(option->keyword);
    }
  }
  PQconninfoFree(defaults);
  CHECK(std::find(secrets.begin(), secrets.end(), "password") != secrets.end());
  CHECK(std::find(secrets.begin(), secrets.end(), "sslpassword") != secrets.end());

  for (const std::string& keyword : secrets) {
    CAPTURE(keyword);
    const std::string value = "Hidden_" + keyword + "_42";
    SUBCASE("keyword=value") {
      const std::string shown = redact_conninfo("host=db " + keyword + "='" + value + "'");
      CHECK(shown.find(value) == std::string::npos);
      CHECK(shown.find(keyword + "=********") != std::string::npos);
      CHECK(shown.find("host=db") != std::string::npos);
    }
    SUBCASE("URI query parameter") {
      const std::string shown =
          redact_conninfo("postgresql://app@db.example/jobs?" + keyword + "=" + value);
      CHECK(shown.find(value) == std::string::npos);
      CHECK(shown.find(keyword + "=********") != std::string::npos);
    }
  }
}

TEST_CASE("redact_conninfo quotes values so that one with a space reads as one value") {
  CHECK(redact_conninfo("application_name='my app' host=db") ==
        "host=db application_name='my app'");
  CHECK(redact_conninfo(R"(options='-c x=\'y\'')") == R"(options='-c x=\'y\'')");
}
