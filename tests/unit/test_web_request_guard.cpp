// The origin check of the dashboard's POSTs (daemon/web/request_guard.hpp).
#include "web/request_guard.hpp"

#include <doctest/doctest.h>

using namespace pgtq;

TEST_CASE("web: a POST counts as the dashboard's own only with a matching Origin or Referer") {
  http::HttpRequest request;
  request.header["host"] = "127.0.0.1:8080";
  CHECK_FALSE(web::same_origin(request)); // neither header
  request.header["origin"] = "http://127.0.0.1:8080";
  CHECK(web::same_origin(request));
  request.header["origin"] = "https://127.0.0.1:8080";
  CHECK(web::same_origin(request));
  request.header["origin"] = "http://evil.example";
  CHECK_FALSE(web::same_origin(request));
  request.header["origin"] = "http://127.0.0.1:8081";
  CHECK_FALSE(web::same_origin(request));
  request.header["origin"] = "null";
  CHECK_FALSE(web::same_origin(request));
  request.header["origin"] = "http://127.0.0.1:8080@evil.example";
  CHECK_FALSE(web::same_origin(request));
  request.header.erase("origin");
  request.header["referer"] = "http://127.0.0.1:8080/task?id=1";
  CHECK(web::same_origin(request));
  request.header["referer"] = "http://evil.example/127.0.0.1:8080";
  CHECK_FALSE(web::same_origin(request));
  CHECK(web::origin_host("HTTP://Example.COM:80/x") == "example.com:80");
  CHECK(web::origin_host("ftp://x") == "");
}
