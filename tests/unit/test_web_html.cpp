// The dashboard's escaping of what it shows and of the links it builds (daemon/web/html.hpp).
#include "web/html.hpp"

#include <doctest/doctest.h>

#include <string>

using namespace pgtq;

TEST_CASE("web: html_escape makes text safe in element content and attribute values") {
  CHECK(web::html_escape("") == "");
  CHECK(web::html_escape("plain text 123") == "plain text 123");
  CHECK(web::html_escape("<script>alert(1)</script>") == "&lt;script&gt;alert(1)&lt;/script&gt;");
  CHECK(web::html_escape("a & b") == "a &amp; b");
  CHECK(web::html_escape("\"onmouseover='x'") == "&quot;onmouseover=&#39;x&#39;");
  CHECK(web::html_escape("&amp;") == "&amp;amp;");         // escaped again, never taken as escaped
  CHECK(web::html_escape("caf\xc3\xa9") == "caf\xc3\xa9"); // UTF-8 passes through
  CHECK(web::html_escape(std::string("a\0b", 3)) == std::string("a\0b", 3));
}

TEST_CASE("web: url_encode keeps unreserved characters only") {
  CHECK(web::url_encode("queue-1_a.b~") == "queue-1_a.b~");
  CHECK(web::url_encode("a b&c=d/e?") == "a%20b%26c%3Dd%2Fe%3F");
  CHECK(web::url_encode("\"<>") == "%22%3C%3E");
  CHECK(web::url_encode("\xc3\xa9") == "%C3%A9");
}
