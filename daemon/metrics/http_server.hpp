#pragma once

#include "metrics/listen_address.hpp"

#include <functional>
#include <string>
#include <string_view>

struct MHD_Daemon;
struct addrinfo;

namespace pgtq::metrics {

struct HttpResponse {
  unsigned status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
};

// A small HTTP/1.1 server on libmicrohttpd for pgtqd's read-only endpoints: GET and HEAD
// only (anything else gets 405), no request bodies, at most 32 connections, idle ones closed
// after 10 s. The handler runs on the server's own thread, one request at a time, so it
// needs no lock against itself; an exception it throws is logged and answered with a 500.
//
// Threads: construct and destroy on one thread; the destructor stops the server and waits
// for a request being handled.
class HttpServer {
public:
  using Handler = std::function<HttpResponse(std::string_view path)>;

  // Resolves the address and starts listening. Throws std::runtime_error naming the address
  // when it cannot (a name that does not resolve, a port in use, no permission).
  HttpServer(const ListenAddress& address, Handler handler);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // The port listened on (the system's choice for port 0).
  std::uint16_t port() const { return m_port; }

  // For libmicrohttpd's callback only.
  HttpResponse respond(std::string_view method, std::string_view path) const;

private:
  // Listens on one address; m_daemon stays null when it cannot.
  void start(std::uint16_t port, const addrinfo* address);

  Handler m_handler;
  MHD_Daemon* m_daemon = nullptr;
  std::uint16_t m_port = 0;
};

} // namespace pgtq::metrics
