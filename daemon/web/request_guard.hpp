#pragma once

#include "http/http_server.hpp"

#include <cstdint>
#include <string>
#include <vector>

namespace pgtq::web {

// Whether a POST comes from the dashboard's own pages: its Origin header (or, when a browser
// sent none, its Referer) names the host and port the request was sent to (its Host header).
// A form another site makes the browser post carries that site's origin; "null", an
// unreadable value or neither header is refused too. Behind a reverse proxy the proxy must
// pass the Host header on unchanged (nginx: proxy_set_header Host $host).
bool same_origin(const http::HttpRequest& request);

// Whether the browser reached the dashboard over TLS, as far as the dashboard can tell: it
// speaks plain HTTP itself, so only a proxy's X-Forwarded-Proto: https or an https Origin
// say so. Decides the session cookie's Secure attribute.
bool over_tls(const http::HttpRequest& request);

// The Host header values a request may carry, against DNS rebinding (a page of another site
// whose name was made to resolve to this machine: its browser sends that site's name).
struct AllowedHosts {
  std::string listen_host;        // --listen's host, without brackets ("127.0.0.1", "::1")
  std::vector<std::string> extra; // --allowed-host NAME[:PORT]; a NAME alone: any port
};

// Whether host (a Host header, compared case-insensitively) names this dashboard: the
// listen host, localhost, 127.0.0.1 or [::1] at the port listened on, or one of the extra
// names. An empty or unreadable one does not.
bool host_allowed(const std::string& host, const AllowedHosts& allowed, std::uint16_t port);

// Whether an --allowed-host value is NAME or NAME:PORT (a bracketed IPv6 address for NAME).
bool valid_allowed_host(const std::string& entry);

// The host[:port] of an http or https URL or origin; empty when it is neither.
std::string origin_host(const std::string& url);

} // namespace pgtq::web
