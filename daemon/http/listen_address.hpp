#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace pgtq::http {

// Where an HTTP endpoint listens, as the metrics-listen option spells it: HOST:PORT, with
// HOST a name, an IPv4 address or a bracketed IPv6 address ("127.0.0.1:9187",
// "[::1]:9187", "localhost:9187", "0.0.0.0:9187" for every interface) and PORT 0..65535
// (0: a free port the system picks).
struct ListenAddress {
  std::string host; // without brackets
  std::uint16_t port = 0;
};

// The parsed address, or nothing with `why` set (a sentence fragment: "needs a port").
std::optional<ListenAddress> parse_listen_address(std::string_view text, std::string* why);

// Whether every address host resolves to is a loopback address (127.0.0.0/8, ::1), so that
// only this machine can connect. False when it does not resolve: the caller must then treat
// it as reachable from elsewhere.
bool is_loopback_host(const std::string& host);

} // namespace pgtq::http
