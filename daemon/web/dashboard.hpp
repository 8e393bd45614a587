#pragma once

#include "db/connection.hpp"
#include "http/http_server.hpp"
#include "web/depth_history.hpp"
#include "web/page_frame.hpp"
#include "web/session_store.hpp"

#include <chrono>
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
};

// pgtqctl web's request handler: routes GETs to the pages (web/pages.hpp), and POSTs to the
// login, logout and the actions (web/actions.hpp) after checking, in this order, that the
// POST comes from the dashboard's own origin, that credentials are configured, that the
// browser has a live session, and that the form carries the session's CSRF token. A refused
// POST changes nothing and gets a 403. GET never changes anything.
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
  // Against online guessing: after a few wrong passwords in a row, one try a second (for
  // everyone: the dashboard cannot tell attackers apart, and a second is no hardship).
  int m_failed_logins = 0;
  std::chrono::steady_clock::time_point m_last_failed_login{};
};

} // namespace pgtq::web
