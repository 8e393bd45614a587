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

bool constant_time_equal(std::string_view secret, std::string_view given) {
  if (secret.empty()) { // nothing to hide: only the empty string equals it
    return given.empty();
  }
  // Every byte of the given string is compared with a byte of the secret (repeated as
  // needed), so that the time depends on the given string's length only: neither the
  // secret's length nor where a guess goes wrong shows.
  std::uint8_t difference = 0;
  for (std::size_t i = 0; i < given.size(); ++i) {
    difference = static_cast<std::uint8_t>(difference |
                                           (static_cast<std::uint8_t>(given[i]) ^
                                            static_cast<std::uint8_t>(secret[i % secret.size()])));
  }
  const std::size_t lengths = secret.size() ^ given.size();
  // volatile: keeps the compiler from ending the loop at the first difference.
  const volatile std::size_t result = lengths | difference;
  return result == 0;
}

} // namespace pgtq::web
