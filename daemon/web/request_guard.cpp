#include "web/request_guard.hpp"

#include <algorithm>
#include <cctype>

namespace pgtq::web {
namespace {

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) {
    return static_cast<char>(std::tolower(c));
  });
  return text;
}

} // namespace

std::string origin_host(const std::string& url) {
  const std::string text = lower(url);
  std::string rest;
  if (text.rfind("http://", 0) == 0) {
    rest = text.substr(7);
  } else if (text.rfind("https://", 0) == 0) {
    rest = text.substr(8);
  } else {
    return "";
  }
  rest = rest.substr(0, rest.find_first_of("/?#"));
  // user@host is no origin a browser sends, and would hide the host behind a name.
  return rest.find('@') == std::string::npos ? rest : "";
}

bool same_origin(const http::HttpRequest& request) {
  const std::string& host = http::HttpRequest::get(request.header, "host");
  const std::string& origin = http::HttpRequest::get(request.header, "origin");
  const std::string& referer = http::HttpRequest::get(request.header, "referer");
  const std::string claimed = origin_host(!origin.empty() ? origin : referer);
  return !host.empty() && !claimed.empty() && claimed == lower(host);
}

bool over_tls(const http::HttpRequest& request) {
  return lower(http::HttpRequest::get(request.header, "x-forwarded-proto")) == "https" ||
         lower(http::HttpRequest::get(request.header, "origin")).rfind("https://", 0) == 0;
}

} // namespace pgtq::web
