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

TEST_CASE("web: a request is served only for a Host naming the dashboard") {
  const web::AllowedHosts loopback{.listen_host = "127.0.0.1", .extra = {}};
  CHECK(web::host_allowed("127.0.0.1:8080", loopback, 8080));
  CHECK(web::host_allowed("localhost:8080", loopback, 8080));
  CHECK(web::host_allowed("LocalHost:8080", loopback, 8080)); // case-insensitive
  CHECK(web::host_allowed("[::1]:8080", loopback, 8080));
  CHECK_FALSE(web::host_allowed("127.0.0.1:8081", loopback, 8080)); // another port
  CHECK_FALSE(web::host_allowed("127.0.0.1", loopback, 8080));      // no port: 80
  CHECK(web::host_allowed("localhost", loopback, 80));
  CHECK_FALSE(web::host_allowed("evil.example:8080", loopback, 8080)); // DNS rebinding
  CHECK_FALSE(web::host_allowed("evil.example", loopback, 8080));
  CHECK_FALSE(web::host_allowed("", loopback, 8080)); // no Host
  CHECK_FALSE(web::host_allowed("127.0.0.1:8080@evil.example", loopback, 8080));
  CHECK_FALSE(web::host_allowed("::1:8080", loopback, 8080)); // unbracketed IPv6

  const web::AllowedHosts v6{.listen_host = "::1", .extra = {}};
  CHECK(web::host_allowed("[::1]:9000", v6, 9000));
  const web::AllowedHosts lan{.listen_host = "192.168.1.5", .extra = {}};
  CHECK(web::host_allowed("192.168.1.5:8080", lan, 8080)); // the listen address as given
  CHECK_FALSE(web::host_allowed("192.168.1.6:8080", lan, 8080));

  const web::AllowedHosts proxied{.listen_host = "127.0.0.1",
                                  .extra = {"Dash.Example.com", "other.example:8443"}};
  CHECK(web::host_allowed("dash.example.com", proxied, 8080)); // a name alone: any port
  CHECK(web::host_allowed("DASH.example.com:443", proxied, 8080));
  CHECK(web::host_allowed("other.example:8443", proxied, 8080));
  CHECK_FALSE(web::host_allowed("other.example:443", proxied, 8080));
  CHECK_FALSE(web::host_allowed("other.example", proxied, 8080));
  CHECK_FALSE(web::host_allowed("sub.dash.example.com", proxied, 8080));
  CHECK(web::host_allowed("127.0.0.1:8080", proxied, 8080));

  CHECK(web::valid_allowed_host("dash.example.com"));
  CHECK(web::valid_allowed_host("dash.example.com:443"));
  CHECK(web::valid_allowed_host("[2001:db8::1]:443"));
  CHECK_FALSE(web::valid_allowed_host(""));
  CHECK_FALSE(web::valid_allowed_host("dash.example.com:"));
  CHECK_FALSE(web::valid_allowed_host("dash.example.com:port"));
  CHECK_FALSE(web::valid_allowed_host("http://dash.example.com"));
  CHECK_FALSE(web::valid_allowed_host("2001:db8::1"));
}
