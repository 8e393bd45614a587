#pragma once

#include <string>
#include <string_view>

namespace pgtq::web {

// text made safe to put anywhere in an HTML document, in element content and in quoted
// attribute values alike: & < > " ' become character references. Everything the dashboard
// shows that it did not write itself (task names, args, errors, queue names) goes through it.
std::string html_escape(std::string_view text);

// text as one component of a URL's query string (RFC 3986 unreserved characters kept, every
// other byte %XX), for the links the dashboard builds from names it shows.
std::string url_encode(std::string_view text);

} // namespace pgtq::web
