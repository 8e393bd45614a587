#pragma once

#include "db/connection.hpp"
#include "http/http_server.hpp"
#include "web/depth_history.hpp"
#include "web/page_frame.hpp"
#include "web/request_guard.hpp"
#include "web/session_store.hpp"

#include <chrono>
#include <map>
#include <optional>
#include <string>

namespace pgtq::web {

struct DashboardOptions {
  std::string dsn;
  // The password that logs in; none: read-only mode (no actions, every POST refused), which
  // pgtqctl web allows on a loopback address only.
  std::optional<std::string> password;
  int refresh_seconds = 10; // of the queues page; 0: none
  std::chrono::seconds session_lifetime{12 * 3600};
  // The Host headers served (web/request_guard.hpp); any other gets a 421.
  AllowedHosts allowed_hosts;
};

// pgtqctl web's request handler. First, for every method, that the Host header names the
// dashboard (else 421: DNS rebinding). Then it routes GETs to the pages (web/pages.hpp) --
// with credentials configured, only for a live session: any other GET but /login is sent to
// /login (303) -- and POSTs to the login, logout and the actions (web/actions.hpp) after
// checking, in this order, that the POST comes from the dashboard's own origin, that
// credentials are configured, that the browser has a live session, and that the form
// carries the session's CSRF token. A refused POST changes nothing and gets a 403. GET never
// changes anything.
//
// Threads: the HTTP server's thread only; reads the depth history, which locks itself.
class Dashboard {
public:
  Dashboard(DashboardOptions options, const DepthHistory& history);

  http::HttpResponse handle(const http::HttpRequest& request);

private:
  http::HttpResponse get(const http::HttpRequest& request, PageContext context);
  http::HttpResponse post(const http::HttpRequest& request,
                          const std::optional<SessionStore::Session>& session);
  http::HttpResponse log_in(const http::HttpRequest& request);
  // The connection to run a page's statements on, opened again after it broke.
  db::Connection& connection();

  DashboardOptions m_options;
  const DepthHistory& m_history;
  SessionStore m_sessions;
  std::optional<db::Connection> m_connection;
  // Against online guessing: after a few wrong passwords in a row from one client (its IP
  // address; an IPv6 one's /64), one try a second for it. At most k_max_clients are kept,
  // the one whose last wrong password is oldest dropped first.
  struct FailedLogins {
    int in_a_row = 0;
    std::chrono::steady_clock::time_point last{};
  };
  static constexpr std::size_t k_max_clients = 10000;
  std::map<std::string, FailedLogins> m_failed_logins;
};

} // namespace pgtq::web
