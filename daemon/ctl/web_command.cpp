// pgtqctl web: the dashboard (daemon/web/) served until SIGINT or SIGTERM.
#include "ctl/arguments.hpp"
#include "ctl/commands.hpp"
#include "ctl/session.hpp"
#include "db/queries.hpp"
#include "http/http_server.hpp"
#include "http/listen_address.hpp"
#include "web/dashboard.hpp"
#include "web/depth_history.hpp"
#include "web/request_guard.hpp"

#include <signal.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <optional>
#include <sstream>
#include <stdexcept>

namespace pgtq::ctl {
namespace {

constexpr int k_config_error = 78; // EX_CONFIG

// The password from --password-file, else from PGTQ_WEB_PASSWORD; none when neither is set.
// Trailing line ends are not part of it (echo secret > file). Never from the command line,
// where every user of the machine could read it (ps).
std::optional<std::string> read_password(const std::optional<std::string>& file, std::string* why) {
  std::string password;
  if (file) {
    std::ifstream in(*file, std::ios::binary);
    if (!in) {
      *why = "cannot read --password-file " + *file;
      return std::nullopt;
    }
    std::ostringstream text;
    text << in.rdbuf();
    password = text.str();
  } else if (const char* from_env = std::getenv("PGTQ_WEB_PASSWORD")) {
    password = from_env;
  } else {
    return std::nullopt;
  }
  while (!password.empty() && (password.back() == '\n' || password.back() == '\r')) {
    password.pop_back();
  }
  if (password.size() < 8) {
    *why = std::string(file ? "--password-file" : "PGTQ_WEB_PASSWORD") +
           " holds a password shorter than 8 bytes";
    return std::nullopt;
  }
  return password;
}

} // namespace

int web(const std::string& dsn, const WebOptions& options, std::ostream& out) {
  std::string why;
  const auto address = http::parse_listen_address(options.listen, &why);
  if (!address) {
    throw UsageError("--listen " + why);
  }
  for (const std::string& host : options.allowed_hosts) {
    if (!web::valid_allowed_host(host)) {
      throw UsageError("--allowed-host " + host + ": needs NAME or NAME:PORT");
    }
  }
  const int refresh = parse_int("--refresh", options.refresh, 0, 3600);
  const int interval = parse_int("--sample-interval", options.sample_interval, 1, 3600);
  why.clear();
  std::optional<std::string> password = read_password(options.password_file, &why);
  if (!why.empty()) {
    std::cerr << "pgtqctl: web: " << why << '\n';
    return k_config_error;
  }
  const bool loopback = http::is_loopback_host(address->host);
  if (!password && !loopback) {
    std::cerr << "pgtqctl: web: refusing to listen on " << options.listen
              << " without credentials: anyone who can reach it could read every task's "
                 "args, results and errors. Give --password-file PATH (or set "
                 "PGTQ_WEB_PASSWORD), or listen on a loopback address (127.0.0.1, ::1, "
                 "localhost) for a read-only dashboard\n";
    return k_config_error;
  }
  // The database and its schema first, so that a wrong --dsn ends here, not on a page.
  connect(dsn).run(db::queries::k_web_depth_sample, {});

  // SIGINT and SIGTERM are waited for below; blocked before any thread starts, so that every
  // thread inherits the mask and none of them is picked to receive them.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGINT);
  sigaddset(&stop, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);

  const bool read_only = !password.has_value();
  // Half an hour of depths at the interval (at least 60 samples).
  const auto samples = static_cast<std::size_t>(std::max(60, 1800 / interval));
  web::DepthHistory history(dsn, std::chrono::seconds(interval), samples);
  web::Dashboard dashboard(
      {.dsn = dsn,
       .password = std::move(password),
       .refresh_seconds = refresh,
       .session_lifetime = std::chrono::hours(12),
       .allowed_hosts = {.listen_host = address->host, .extra = options.allowed_hosts}},
      history);
  std::optional<http::HttpServer> server;
  try {
    server.emplace(
        *address,
        [&dashboard](const http::HttpRequest& request) { return dashboard.handle(request); },
        http::HttpServer::Options{
            .accept_post = true, .max_body = 64 * 1024, .log_name = "dashboard"});
  } catch (const std::runtime_error& error) { // a port in use, a name that does not resolve
    std::cerr << "pgtqctl: web: " << error.what() << '\n';
    return k_config_error;
  }
  const bool v6 = address->host.find(':') != std::string::npos;
  out << "dashboard served at http://" << (v6 ? "[" : "") << address->host << (v6 ? "]" : "") << ":"
      << server->port() << "/" << (read_only ? " (read-only: no credentials configured)" : "")
      << std::endl;
  int received = 0;
  sigwait(&stop, &received);
  out << "stopping (signal " << received << ")" << std::endl;
  return 0;
}

} // namespace pgtq::ctl
