#pragma once

#include <arpa/inet.h>
#include <netinet/in.h>

#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <stdexcept>
#include <string>

namespace pgtq::test {

struct HttpReply {
  int status = 0;
  std::string body;
  std::string head; // the status line and headers, as sent
};

// One HTTP/1.0 request to 127.0.0.1:port, read to the end (the server closes): enough to
// test pgtqd's endpoints and pgtqctl web without a client library. headers: more header
// lines, each ending in \r\n (a Host line replaces the default one); body: a POST's. Throws when
// nothing answers.
inline HttpReply http_request(std::uint16_t port,
                              const std::string& path,
                              const std::string& method = "GET",
                              const std::string& headers = "",
                              const std::string& body = "") {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) {
    throw std::runtime_error("socket() failed");
  }
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval timeout{.tv_sec = 10, .tv_usec = 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  if (::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) != 0) {
    ::close(fd);
    throw std::runtime_error("nothing listens on port " + std::to_string(port));
  }
  // Host: 127.0.0.1:PORT, as a browser sends it, unless headers has a Host line of its own.
  const bool own_host =
      headers.rfind("Host:", 0) == 0 || headers.find("\r\nHost:") != std::string::npos;
  std::string request = method + " " + path + " HTTP/1.0\r\n" +
                        (own_host ? "" : "Host: 127.0.0.1:" + std::to_string(port) + "\r\n") +
                        headers;
  if (!body.empty()) {
    request += "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: " +
               std::to_string(body.size()) + "\r\n";
  }
  request += "\r\n" + body;
  if (::send(fd, request.data(), request.size(), MSG_NOSIGNAL) !=
      static_cast<ssize_t>(request.size())) {
    ::close(fd);
    throw std::runtime_error("send() failed");
  }
  std::string raw;
  char buffer[65536];
  for (ssize_t n; (n = ::recv(fd, buffer, sizeof buffer, 0)) > 0;) {
    raw.append(buffer, static_cast<std::size_t>(n));
  }
  ::close(fd);
  HttpReply reply;
  // "HTTP/1.x NNN reason\r\n...headers...\r\n\r\nbody"
  if (raw.size() < 12 || raw.compare(0, 5, "HTTP/") != 0) {
    throw std::runtime_error("not an HTTP reply: " + raw.substr(0, 80));
  }
  reply.status = std::stoi(raw.substr(9, 3));
  const std::size_t end = raw.find("\r\n\r\n");
  reply.head = raw.substr(0, end);
  reply.body = end == std::string::npos ? std::string() : raw.substr(end + 4);
  return reply;
}

} // namespace pgtq::test
