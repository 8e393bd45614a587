#include "http/http_server.hpp"

#include <netinet/in.h>
#include <spdlog/spdlog.h>

#include <microhttpd.h>
#include <netdb.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstdarg>
#include <cstdio>
#include <memory>
#include <stdexcept>

namespace pgtq::http {
namespace {

void log_library_error(void* cls, const char* format, va_list args) {
  std::array<char, 512> text{};
  std::vsnprintf(text.data(), text.size(), format, args); // NOLINT(cert-err33-c): best effort
  std::string line(text.data());
  while (!line.empty() && line.back() == '\n') {
    line.pop_back();
  }
  spdlog::warn("{}: {}", static_cast<const HttpServer*>(cls)->options().log_name, line);
}

// What one request has gathered across libmicrohttpd's calls: a POST's body arrives in
// pieces, each handed to the post processor, before the handler may answer.
struct RequestState {
  HttpRequest request;
  MHD_PostProcessor* post = nullptr;
  std::size_t received = 0;
  bool too_large = false;

  ~RequestState() {
    if (post != nullptr) {
      MHD_destroy_post_processor(post);
    }
  }
};

MHD_Result collect(void* cls, MHD_ValueKind kind, const char* key, const char* value) {
  auto* into = static_cast<std::map<std::string, std::string>*>(cls);
  std::string name(key != nullptr ? key : "");
  if (kind == MHD_HEADER_KIND) { // header names are case-insensitive
    std::transform(name.begin(), name.end(), name.begin(), [](unsigned char c) {
      return static_cast<char>(std::tolower(c));
    });
  }
  into->emplace(std::move(name), value != nullptr ? value : ""); // the first of a repeated one
  return MHD_YES;
}

MHD_Result collect_field(void* cls,
                         MHD_ValueKind /*kind*/,
                         const char* key,
                         const char* /*filename*/,
                         const char* /*content_type*/,
                         const char* /*transfer_encoding*/,
                         const char* data,
                         uint64_t /*offset*/,
                         size_t size) {
  auto* state = static_cast<RequestState*>(cls);
  if (key != nullptr) { // a long value comes in several pieces, in order
    state->request.form[key].append(data != nullptr ? data : "", size);
  }
  return MHD_YES;
}

// The numeric form of a socket address's host ("127.0.0.1", "::1"); empty when unknown.
std::string numeric_host(const sockaddr* address) {
  if (address == nullptr) {
    return "";
  }
  const socklen_t length =
      address->sa_family == AF_INET6 ? sizeof(sockaddr_in6) : sizeof(sockaddr_in);
  std::array<char, NI_MAXHOST> host{};
  if (::getnameinfo(address, length, host.data(), host.size(), nullptr, 0, NI_NUMERICHOST) != 0) {
    return "";
  }
  return host.data();
}

RequestState*
begin(const HttpServer& server, MHD_Connection* connection, const char* url, const char* method) {
  auto state = std::make_unique<RequestState>();
  HttpRequest& request = state->request;
  request.method = method;
  request.path = url;
  MHD_get_connection_values(connection, MHD_HEADER_KIND, &collect, &request.header);
  MHD_get_connection_values(connection, MHD_COOKIE_KIND, &collect, &request.cookie);
  MHD_get_connection_values(connection, MHD_GET_ARGUMENT_KIND, &collect, &request.query);
  if (const MHD_ConnectionInfo* peer =
          MHD_get_connection_info(connection, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
      peer != nullptr) {
    request.client_address = numeric_host(peer->client_addr);
  }
  // From the daemon, not from the server object, whose port is set only after it started.
  if (const MHD_ConnectionInfo* daemon =
          MHD_get_connection_info(connection, MHD_CONNECTION_INFO_DAEMON);
      daemon != nullptr) {
    if (const MHD_DaemonInfo* bound =
            MHD_get_daemon_info(daemon->daemon, MHD_DAEMON_INFO_BIND_PORT);
        bound != nullptr) {
      request.local_port = bound->port;
    }
  }
  if (request.method == "POST" && server.options().accept_post) {
    // Null for a body that is not a form (no or another content type): its bytes are then
    // counted and dropped, and the handler sees no fields.
    state->post = MHD_create_post_processor(connection, 4096, &collect_field, state.get());
  }
  return state.release();
}

void finish(void* /*cls*/,
            MHD_Connection* /*connection*/,
            void** request_state,
            MHD_RequestTerminationCode /*why*/) {
  delete static_cast<RequestState*>(*request_state); // NOLINT(cppcoreguidelines-owning-memory)
  *request_state = nullptr;
}

MHD_Result answer(void* cls,
                  MHD_Connection* connection,
                  const char* url,
                  const char* method,
                  const char* /*version*/,
                  const char* upload_data,
                  size_t* upload_data_size,
                  void** request_state) {
  const auto* server = static_cast<const HttpServer*>(cls);
  if (*request_state == nullptr) {
    try {
      *request_state = begin(*server, connection, url, method);
    } catch (...) { // nothing may cross libmicrohttpd's C frames
      return MHD_NO;
    }
    return MHD_YES;
  }
  auto* state = static_cast<RequestState*>(*request_state);
  if (*upload_data_size > 0) {
    state->received += *upload_data_size;
    state->too_large = state->too_large || state->received > server->options().max_body;
    if (!state->too_large && state->post != nullptr &&
        MHD_post_process(state->post, upload_data, *upload_data_size) != MHD_YES) {
      state->too_large = true; // a body the processor cannot read: refused the same way
    }
    *upload_data_size = 0;
    return MHD_YES;
  }
  HttpResponse reply;
  try {
    reply = state->too_large ? HttpResponse{.status = 413, .body = "request body refused\n"}
                             : server->respond(state->request);
  } catch (...) {
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
    MHD_add_response_header(response,
                            MHD_HTTP_HEADER_ALLOW,
                            server->options().accept_post ? "GET, HEAD, POST" : "GET, HEAD");
  }
  for (const auto& [name, value] : reply.headers) {
    MHD_add_response_header(response, name.c_str(), value.c_str());
  }
  const MHD_Result queued = MHD_queue_response(connection, reply.status, response);
  MHD_destroy_response(response);
  return queued;
}

} // namespace

const std::string& HttpRequest::get(const std::map<std::string, std::string>& from,
                                    const std::string& name) {
  static const std::string k_none;
  const auto found = from.find(name);
  return found == from.end() ? k_none : found->second;
}

HttpServer::HttpServer(const ListenAddress& address, Handler handler, Options options)
    : m_handler(std::move(handler)), m_options(std::move(options)) {
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
                              this,
                              MHD_OPTION_NOTIFY_COMPLETED,
                              &finish,
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

HttpResponse HttpServer::respond(const HttpRequest& request) const {
  const bool allowed = request.method == "GET" || request.method == "HEAD" ||
                       (request.method == "POST" && m_options.accept_post);
  if (!allowed) {
    return {.status = 405,
            .body = m_options.accept_post ? "only GET, HEAD and POST\n" : "only GET and HEAD\n"};
  }
  try {
    return m_handler(request);
  } catch (const std::exception& error) {
    spdlog::error("{}: {}", m_options.log_name, error.what());
    return {.status = 500, .body = "internal error\n"};
  }
}

} // namespace pgtq::http
