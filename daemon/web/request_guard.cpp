#include "web/request_guard.hpp"

#include <algorithm>
#include <cctype>
#include <optional>

namespace pgtq::web {
namespace {

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(), [](unsigned char c) {
    return static_cast<char>(std::tolower(c));
  });
  return text;
}

// A Host header or --allowed-host value as NAME and PORT (empty when absent), lower case;
// nothing when it is not of that form. NAME is a bracketed IPv6 address or has no colon.
struct NameAndPort {
  std::string name;
  std::string port;
};
std::optional<NameAndPort> split_host(const std::string& text) {
  const std::string host = lower(text);
  std::size_t colon = std::string::npos;
  if (!host.empty() && host[0] == '[') {
    const std::size_t close = host.find(']');
    if (close == std::string::npos || close == 1) {
      return std::nullopt;
    }
    if (close + 1 < host.size()) {
      if (host[close + 1] != ':') {
        return std::nullopt;
      }
      colon = close + 1;
    }
  } else {
    colon = host.find(':');
    if (colon != std::string::npos && host.find(':', colon + 1) != std::string::npos) {
      return std::nullopt; // an IPv6 address without brackets
    }
  }
  NameAndPort result{.name = host.substr(0, colon),
                     .port = colon == std::string::npos ? "" : host.substr(colon + 1)};
  const bool name_ok =
      !result.name.empty() && std::none_of(result.name.begin(), result.name.end(), [](char c) {
        return static_cast<unsigned char>(c) <= 0x20 || c == 0x7f || c == '/' || c == '@';
      });
  const bool port_ok = (colon == std::string::npos || !result.port.empty()) &&
                       result.port.size() <= 5 &&
                       std::all_of(result.port.begin(), result.port.end(), [](unsigned char c) {
                         return std::isdigit(c) != 0;
                       });
  if (!name_ok || !port_ok) {
    return std::nullopt;
  }
  return result;
}

} // namespace

bool host_allowed(const std::string& host, const AllowedHosts& allowed, std::uint16_t port) {
  const std::optional<NameAndPort> given = split_host(host);
  if (!given) {
    return false;
  }
  const std::string listen_host = lower(allowed.listen_host);
  const std::string listen_name =
      listen_host.find(':') != std::string::npos ? "[" + listen_host + "]" : listen_host;
  // A browser leaves out port 80 of an http URL.
  const std::string bound = std::to_string(port);
  if (given->port == bound || (given->port.empty() && port == 80)) {
    for (const std::string& name :
         {listen_name, std::string("localhost"), std::string("127.0.0.1"), std::string("[::1]")}) {
      if (given->name == name) {
        return true;
      }
    }
  }
  return std::any_of(allowed.extra.begin(), allowed.extra.end(), [&](const std::string& entry) {
    const std::optional<NameAndPort> rule = split_host(entry);
    return rule && rule->name == given->name && (rule->port.empty() || rule->port == given->port);
  });
}

bool valid_allowed_host(const std::string& entry) {
  return split_host(entry).has_value();
}

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
