#include "support/notify_socket.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <stdexcept>

namespace pgtq::test {

namespace {
constexpr const char* k_separator = "\n---\n";
} // namespace

NotifySocket::NotifySocket() {
  m_path = "/tmp/pgtq-notify-" + std::to_string(::getpid()) + ".sock";
  ::unlink(m_path.c_str());
  m_fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, m_path.c_str(), sizeof address.sun_path - 1);
  if (m_fd < 0 || ::bind(m_fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    throw std::runtime_error("cannot bind " + m_path);
  }
}

NotifySocket::~NotifySocket() {
  ::close(m_fd);
  ::unlink(m_path.c_str());
}

std::string NotifySocket::read_until(const std::string& text, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd fd{m_fd, POLLIN, 0};
    if (::poll(&fd, 1, 100) > 0) {
      char buffer[4096];
      const auto length = ::recv(m_fd, buffer, sizeof buffer, 0);
      if (length > 0) {
        const std::string message(buffer, static_cast<std::size_t>(length));
        m_received += message + k_separator;
        if (message.find(text) != std::string::npos) {
          return m_received;
        }
      }
    }
  }
  return m_received;
}

bool NotifySocket::received(const std::string& text) const {
  return m_received.find(text) != std::string::npos;
}

int NotifySocket::count(const std::string& text) const {
  int found = 0;
  for (std::size_t start = 0; start < m_received.size();) {
    const auto end = m_received.find(k_separator, start);
    if (m_received.substr(start, end - start).find(text) != std::string::npos) {
      ++found;
    }
    start = end == std::string::npos ? m_received.size() : end + std::strlen(k_separator);
  }
  return found;
}

} // namespace pgtq::test
