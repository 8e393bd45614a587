#include "metrics/listen_address.hpp"

#include <algorithm>

namespace pgtq::metrics {

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

} // namespace pgtq::metrics
