#include "http/listen_address.hpp"

#include <netinet/in.h>

#include <netdb.h>

#include <algorithm>
#include <cstring>
#include <memory>

namespace pgtq::http {

std::optional<ListenAddress> parse_listen_address(std::string_view text, std::string* why) {
  const auto fail = [&](const char* reason) -> std::optional<ListenAddress> {
    if (why != nullptr) {
      *why = reason;
    }
    return std::nullopt;
  };
  const std::size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) {
    return fail("must be HOST:PORT, e.g. 127.0.0.1:9187");
  }
  std::string_view host = text.substr(0, colon);
  const std::string_view port = text.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  } else if (host.find(':') != std::string_view::npos) {
    return fail("must put an IPv6 address in brackets, e.g. [::1]:9187");
  }
  if (host.empty()) {
    return fail("must name the host to listen on, e.g. 127.0.0.1:9187 (0.0.0.0 for every "
                "interface)");
  }
  const bool host_ok = std::all_of(host.begin(), host.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '-' || c == ':' || c == '_' || c == '%';
  });
  if (!host_ok) {
    return fail("must be a host name or an IP address, then :PORT");
  }
  const bool digits =
      !port.empty() && port.size() <= 5 &&
      std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; });
  const int number = digits ? std::stoi(std::string(port)) : 0;
  if (!digits || number > 65535) {
    return fail("must end in a port from 0 to 65535 (0: one the system picks, logged at start)");
  }
  return ListenAddress{std::string(host), static_cast<std::uint16_t>(number)};
}

bool is_loopback_host(const std::string& host) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (::getaddrinfo(host.c_str(), nullptr, &hints, &found) != 0 || found == nullptr) {
    return false;
  }
  const std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> owned(found, &::freeaddrinfo);
  for (const addrinfo* each = found; each != nullptr; each = each->ai_next) {
    if (each->ai_family == AF_INET) {
      sockaddr_in v4{};
      std::memcpy(&v4, each->ai_addr, sizeof v4);
      if ((ntohl(v4.sin_addr.s_addr) >> 24) != 127) {
        return false;
      }
    } else if (each->ai_family == AF_INET6) {
      sockaddr_in6 v6{};
      std::memcpy(&v6, each->ai_addr, sizeof v6);
      if (!IN6_IS_ADDR_LOOPBACK(&v6.sin6_addr)) {
        return false;
      }
    } else {
      return false;
    }
  }
  return true;
}

} // namespace pgtq::http
