#pragma once

#include "http/http_server.hpp"

#include <string>

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

// The host[:port] of an http or https URL or origin; empty when it is neither.
std::string origin_host(const std::string& url);

} // namespace pgtq::web
