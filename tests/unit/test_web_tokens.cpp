// Session and CSRF tokens, and their comparison (daemon/web/tokens.hpp).
#include "web/tokens.hpp"

#include <doctest/doctest.h>

#include <string>

using namespace pgtq;

TEST_CASE("web: tokens are 64 hex digits, new each time, and compared exactly") {
  const std::string a = web::random_token();
  const std::string b = web::random_token();
  CHECK(a.size() == 64);
  CHECK(a.find_first_not_of("0123456789abcdef") == std::string::npos);
  CHECK(a != b);
  CHECK(web::constant_time_equal(a, a));
  CHECK_FALSE(web::constant_time_equal(a, b));
  CHECK_FALSE(web::constant_time_equal(a, a.substr(0, 63)));
  CHECK_FALSE(web::constant_time_equal("", a));
  CHECK(web::constant_time_equal("", ""));
}

TEST_CASE("web: constant_time_equal compares the given string with the secret") {
  const std::string secret = "correct horse battery";
  CHECK(web::constant_time_equal(secret, "correct horse battery"));       // equal
  CHECK_FALSE(web::constant_time_equal(secret, "correct horse batterx")); // last byte
  CHECK_FALSE(web::constant_time_equal(secret, "Correct horse battery")); // first byte
  CHECK_FALSE(web::constant_time_equal(secret, "correct"));               // a prefix
  CHECK_FALSE(web::constant_time_equal(secret, ""));
  // Longer: the secret repeated, or the secret and more.
  CHECK_FALSE(web::constant_time_equal(secret, secret + secret));
  CHECK_FALSE(web::constant_time_equal(secret, secret + "x"));
  CHECK_FALSE(web::constant_time_equal("ab", "abab"));
  CHECK(web::constant_time_equal("", ""));
  CHECK_FALSE(web::constant_time_equal("", "x"));
}
