#include "web/tokens.hpp"

#include <sys/random.h>

#include <array>
#include <cerrno>
#include <cstdint>
#include <stdexcept>

namespace pgtq::web {

std::string random_token() {
  std::array<unsigned char, 32> bytes{};
  std::size_t filled = 0;
  while (filled < bytes.size()) {
    const ssize_t got = ::getrandom(bytes.data() + filled, bytes.size() - filled, 0);
    if (got < 0) {
      if (errno == EINTR) {
        continue;
      }
      throw std::runtime_error("getrandom() failed: no random bytes for a session token");
    }
    filled += static_cast<std::size_t>(got);
  }
  static constexpr char k_hex[] = "0123456789abcdef";
  std::string token;
  for (const unsigned char byte : bytes) {
    token += k_hex[byte >> 4];
    token += k_hex[byte & 0x0F];
  }
  return token;
}

bool constant_time_equal(std::string_view a, std::string_view b) {
  // Every byte of the longer one is looked at whatever the lengths; a length mismatch only
  // says the lengths differ (a token's length is no secret).
  const std::size_t length = a.size() > b.size() ? a.size() : b.size();
  std::uint8_t difference = a.size() == b.size() ? 0 : 1;
  for (std::size_t i = 0; i < length; ++i) {
    const auto x = static_cast<std::uint8_t>(i < a.size() ? a[i] : 0);
    const auto y = static_cast<std::uint8_t>(i < b.size() ? b[i] : 0);
    difference = static_cast<std::uint8_t>(difference | (x ^ y));
  }
  // volatile: keeps the compiler from ending the loop at the first difference.
  const volatile std::uint8_t result = difference;
  return result == 0;
}

} // namespace pgtq::web
