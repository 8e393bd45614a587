#include "metrics/http_server.hpp"

#include <spdlog/spdlog.h>

#include <microhttpd.h>
#include <netdb.h>

#include <array>
#include <cstdarg>
#include <cstdio>
#include <memory>
#include <stdexcept>

namespace pgtq::metrics {
namespace {

void log_library_error(void* /*unused*/, const char* format, va_list args) {
  std::array<char, 512> text{};
  std::vsnprintf(text.data(), text.size(), format, args); // NOLINT(cert-err33-c): best effort
  std::string line(text.data());
  while (!line.empty() && line.back() == '\n') {
    line.pop_back();
  }
  spdlog::warn("metrics endpoint: {}", line);
}

MHD_Result answer(void* cls,
                  MHD_Connection* connection,
                  const char* url,
                  const char* method,
                  const char* /*version*/,
                  const char* /*upload_data*/,
                  size_t* /*upload_data_size*/,
                  void** /*request_state*/) {
  const auto* server = static_cast<const HttpServer*>(cls);
  HttpResponse reply;
  try {
    reply = server->respond(method, url);
  } catch (...) { // nothing may cross libmicrohttpd's C frames
    reply = {.status = 500, .body = "internal error\n"};
  }
  MHD_Response* response = MHD_create_response_from_buffer(
      reply.body.size(), const_cast<char*>(reply.body.data()), MHD_RESPMEM_MUST_COPY);
  if (response == nullptr) {
    return MHD_NO;
  }
  MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, reply.content_type.c_str());
  MHD_add_response_header(response, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
  if (reply.status == MHD_HTTP_METHOD_NOT_ALLOWED) {
    MHD_add_response_header(response, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
  }
  const MHD_Result queued = MHD_queue_response(connection, reply.status, response);
  MHD_destroy_response(response);
  return queued;
}

} // namespace

HttpServer::HttpServer(const ListenAddress& address, Handler handler)
    : m_handler(std::move(handler)) {
  const std::string where =
      (address.host.find(':') != std::string::npos ? "[" + address.host + "]" : address.host) +
      ":" + std::to_string(address.port);
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* found = nullptr;
  const std::string port = std::to_string(address.port);
  if (const int error = ::getaddrinfo(address.host.c_str(), port.c_str(), &hints, &found);
      error != 0) {
    throw std::runtime_error("cannot listen on " + where + ": " + ::gai_strerror(error));
  }
  const std::unique_ptr<addrinfo, decltype(&::freeaddrinfo)> owned(found, &::freeaddrinfo);
  // Every address the name has, in getaddrinfo's order, until one can be listened on
  // ("localhost" may name ::1 first on a host without IPv6).
  for (const addrinfo* each = found; each != nullptr && m_daemon == nullptr; each = each->ai_next) {
    start(address.port, each);
  }
  if (m_daemon == nullptr) {
    throw std::runtime_error("cannot listen on " + where +
                             " (in use, or not an address of this host?)");
  }
  const MHD_DaemonInfo* info = MHD_get_daemon_info(m_daemon, MHD_DAEMON_INFO_BIND_PORT);
  m_port = info != nullptr ? info->port : address.port;
}

void HttpServer::start(std::uint16_t port, const addrinfo* address) {
  // AUTO: epoll where there is, not select() and its FD_SETSIZE limit.
  unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_AUTO | MHD_USE_ERROR_LOG;
  if (address->ai_family == AF_INET6) {
    flags |= MHD_USE_IPv6;
  }
  m_daemon = MHD_start_daemon(flags,
                              port,
                              nullptr,
                              nullptr,
                              &answer,
                              this,
                              // First, so that every message of the library goes to the log.
                              MHD_OPTION_EXTERNAL_LOGGER,
                              &log_library_error,
                              nullptr,
                              MHD_OPTION_SOCK_ADDR,
                              address->ai_addr,
                              MHD_OPTION_CONNECTION_LIMIT,
                              32U,
                              MHD_OPTION_CONNECTION_TIMEOUT,
                              10U,
                              MHD_OPTION_END);
}

HttpServer::~HttpServer() {
  if (m_daemon != nullptr) {
    MHD_stop_daemon(m_daemon);
  }
}

HttpResponse HttpServer::respond(std::string_view method, std::string_view path) const {
  if (method != "GET" && method != "HEAD") {
    return {.status = 405, .body = "only GET and HEAD\n"};
  }
  try {
    return m_handler(path);
  } catch (const std::exception& error) {
    spdlog::error("metrics endpoint: {}", error.what());
    return {.status = 500, .body = "internal error\n"};
  }
}

} // namespace pgtq::metrics
