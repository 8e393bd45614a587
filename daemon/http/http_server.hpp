#pragma once

#include "http/listen_address.hpp"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <utility>
#include <vector>

struct MHD_Daemon;
struct addrinfo;

namespace pgtq::http {

// One request as libmicrohttpd parsed it: nothing here is parsed by hand.
struct HttpRequest {
  std::string method;
  std::string path;                          // without the query string
  std::map<std::string, std::string> query;  // the URL's arguments, decoded
  std::map<std::string, std::string> form;   // a POST's urlencoded or multipart fields
  std::map<std::string, std::string> header; // names in lower case
  std::map<std::string, std::string> cookie;
  std::string client_address;   // the peer's IP address, numeric ("127.0.0.1", "::1")
  std::uint16_t local_port = 0; // the port the server listens on (the system's for port 0)

  // The value of a query argument, form field, header or cookie; empty when absent.
  static const std::string& get(const std::map<std::string, std::string>& from,
                                const std::string& name);
};

struct HttpResponse {
  unsigned status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers{}; // Set-Cookie, Location, ...
};

// A small HTTP/1.1 server on libmicrohttpd, for pgtqd's /metrics and pgtqctl web: the
// methods it is built for only (anything else gets 405), POST bodies up to a limit (413
// beyond), at most 32 connections, idle ones closed after 10 s. The handler runs on the
// server's own thread, one request at a time, so it needs no lock against itself; an
// exception it throws is logged and answered with a 500.
//
// Threads: construct and destroy on one thread; the destructor stops the server and waits
// for a request being handled.
class HttpServer {
public:
  using Handler = std::function<HttpResponse(const HttpRequest& request)>;

  struct Options {
    bool accept_post = false;          // GET and HEAD only when false
    std::size_t max_body = 64 * 1024;  // bytes of a POST's fields, all told
    std::string log_name = "endpoint"; // names the server in log lines
  };

  // Resolves the address and starts listening. Throws std::runtime_error naming the address
  // when it cannot (a name that does not resolve, a port in use, no permission).
  HttpServer(const ListenAddress& address, Handler handler, Options options);
  HttpServer(const ListenAddress& address, Handler handler)
      : HttpServer(address, std::move(handler), Options{}) {}
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // The port listened on (the system's choice for port 0).
  std::uint16_t port() const { return m_port; }

  // For libmicrohttpd's callbacks only.
  HttpResponse respond(const HttpRequest& request) const;
  const Options& options() const { return m_options; }

private:
  // Listens on one address; m_daemon stays null when it cannot.
  void start(std::uint16_t port, const addrinfo* address);

  Handler m_handler;
  Options m_options;
  MHD_Daemon* m_daemon = nullptr;
  std::uint16_t m_port = 0;
};

} // namespace pgtq::http
