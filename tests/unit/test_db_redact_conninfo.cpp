#include "db/connection.hpp"

#include <doctest/doctest.h>

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
