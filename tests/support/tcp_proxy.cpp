#include "support/tcp_proxy.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstring>
#include <sstream>
#include <stdexcept>
#include <utility>

namespace pgtq::test {

namespace {

// keyword=value pairs of a conninfo without quoting (what the test command sets).
std::vector<std::pair<std::string, std::string>> conninfo_pairs(const std::string& conninfo) {
  std::vector<std::pair<std::string, std::string>> pairs;
  std::istringstream words(conninfo);
  std::string word;
  while (words >> word) {
    const auto equals = word.find('=');
    if (equals != std::string::npos) {
      pairs.emplace_back(word.substr(0, equals), word.substr(equals + 1));
    }
  }
  return pairs;
}

std::string value_of(const std::string& conninfo, const std::string& key) {
  std::string value;
  for (const auto& [name, found] : conninfo_pairs(conninfo)) {
    if (name == key) {
      value = found; // the last one wins, as in libpq
    }
  }
  return value;
}

} // namespace

std::string unix_socket_of(const std::string& conninfo) {
  const std::string host = value_of(conninfo, "host");
  const std::string port = value_of(conninfo, "port");
  if (host.empty() || host[0] != '/' || port.empty()) {
    throw std::runtime_error("the test server's conninfo has no host=/dir and port=N: " + conninfo);
  }
  return host + "/.s.PGSQL." + port;
}

std::string with_host_port(const std::string& conninfo, const std::string& host, int port) {
  std::string rewritten;
  for (const auto& [name, value] : conninfo_pairs(conninfo)) {
    if (name != "host" && name != "port") {
      rewritten += name + "=" + value + " ";
    }
  }
  return rewritten + "host=" + host + " port=" + std::to_string(port);
}

std::string via_proxy(const std::string& conninfo, int port) {
  return with_host_port(conninfo, "127.0.0.1", port);
}

TcpProxy::TcpProxy(std::string socket_path) : m_socket_path(std::move(socket_path)) {
  m_listen_fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  address.sin_port = 0;
  if (::bind(m_listen_fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::listen(m_listen_fd, 64) != 0) {
    throw std::runtime_error("proxy: cannot listen on 127.0.0.1");
  }
  socklen_t length = sizeof address;
  ::getsockname(m_listen_fd, reinterpret_cast<sockaddr*>(&address), &length);
  m_port = ntohs(address.sin_port);
  m_acceptor = std::thread([this] { accept_loop(); });
}

TcpProxy::~TcpProxy() {
  m_stopping = true;
  cut();
  ::shutdown(m_listen_fd, SHUT_RDWR);
  ::close(m_listen_fd);
  m_acceptor.join();
  for (std::thread& thread : m_threads) {
    thread.join();
  }
  for (const int fd : m_open) {
    ::close(fd);
  }
}

void TcpProxy::cut() {
  m_cut = true;
  const std::lock_guard lock(m_mutex);
  for (const int fd : m_open) {
    ::shutdown(fd, SHUT_RDWR);
  }
}

void TcpProxy::restore() {
  m_cut = false;
  m_frozen = false;
}

void TcpProxy::freeze() {
  m_frozen = true;
}

void TcpProxy::accept_loop() {
  while (!m_stopping) {
    pollfd fd{m_listen_fd, POLLIN, 0};
    if (::poll(&fd, 1, 100) <= 0) {
      continue;
    }
    const int client = ::accept4(m_listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (client < 0) {
      continue;
    }
    if (m_cut) {
      ::close(client);
      continue;
    }
    if (m_frozen) {
      const std::lock_guard lock(m_mutex);
      m_open.push_back(client); // accepted, never answered; closed with the proxy
      continue;
    }
    const int server = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un address{};
    address.sun_family = AF_UNIX;
    std::strncpy(address.sun_path, m_socket_path.c_str(), sizeof address.sun_path - 1);
    if (::connect(server, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
      ::close(server);
      ::close(client);
      continue;
    }
    const std::lock_guard lock(m_mutex);
    m_open.push_back(client);
    m_open.push_back(server);
    m_threads.emplace_back([this, client, server] { pump(client, server); });
    m_threads.emplace_back([this, client, server] { pump(server, client); });
  }
}

void TcpProxy::pump(int from, int to) {
  char buffer[16384];
  for (;;) {
    const auto got = ::read(from, buffer, sizeof buffer);
    if (got <= 0) {
      break;
    }
    if (m_frozen) {
      continue; // lost on the way
    }
    // MSG_NOSIGNAL: the other end may be gone (cut(), or pgtqd's connection dropped), and a
    // write() to it would raise SIGPIPE and kill the whole test process.
    if (::send(to, buffer, static_cast<std::size_t>(got), MSG_NOSIGNAL) != got) {
      break;
    }
  }
  ::shutdown(to, SHUT_RDWR);
}

} // namespace pgtq::test
