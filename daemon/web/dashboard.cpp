#include "web/dashboard.hpp"

#include "ctl/arguments.hpp"
#include "db/pg_error.hpp"
#include "web/actions.hpp"
#include "web/html.hpp"
#include "web/pages.hpp"
#include "web/request_guard.hpp"
#include "web/tokens.hpp"

#include <arpa/inet.h>
#include <libpq-fe.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <array>

namespace pgtq::web {
namespace {

constexpr const char* k_cookie = "pgtq_session";
constexpr int k_free_failed_logins = 5; // wrong passwords in a row before the one-second pace

// Pages may not be framed (clickjacking), load nothing from elsewhere, run no script, and
// post forms to the dashboard only.
http::HttpResponse html(unsigned status, std::string body) {
  return {.status = status,
          .content_type = "text/html; charset=utf-8",
          .body = std::move(body),
          .headers = {{"Content-Security-Policy",
                       "default-src 'none'; style-src 'unsafe-inline'; img-src 'self'; "
                       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"},
                      {"X-Frame-Options", "DENY"},
                      {"X-Content-Type-Options", "nosniff"},
                      {"Referrer-Policy", "same-origin"}}};
}

http::HttpResponse refused(const std::string& why) {
  return html(403,
              page(PageContext{},
                   "Refused",
                   "<p id=\"refused\">" + html_escape(why) + "</p><p><a href=\"/\">back</a></p>"));
}

http::HttpResponse redirect(const std::string& to) {
  return {.status = 303, .body = "see " + to + "\n", .headers = {{"Location", to}}};
}

// A path of this dashboard to go to after a form: anything else (another host, "//x",
// a scheme) becomes "/", so that a crafted link cannot send a login elsewhere.
std::string local_path(const std::string& back) {
  const bool ok = back.size() > 0 && back[0] == '/' && (back.size() == 1 || back[1] != '/') &&
                  back.find('\\') == std::string::npos &&
                  std::none_of(back.begin(), back.end(), [](char c) {
                    return static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
                  });
  return ok ? back : "/";
}

// The page's own address, for forms to come back to: path and its arguments, encoded again.
std::string address_of(const http::HttpRequest& request) {
  std::string address = request.path;
  char separator = '?';
  for (const auto& [name, value] : request.query) {
    address += separator + url_encode(name) + "=" + url_encode(value);
    separator = '&';
  }
  return address;
}

std::string session_cookie(const std::string& value, long max_age, bool secure) {
  return std::string(k_cookie) + "=" + value +
         "; Path=/; HttpOnly; SameSite=Strict; Max-Age=" + std::to_string(max_age) +
         (secure ? "; Secure" : "");
}

// Whom wrong passwords are counted for: the client's address, or an IPv6 address's /64
// (one host commonly has a whole /64 to pick addresses from).
std::string throttle_key(const std::string& client) {
  std::array<unsigned char, 16> bytes{};
  if (client.find(':') == std::string::npos ||
      ::inet_pton(AF_INET6, client.c_str(), bytes.data()) != 1) {
    return client;
  }
  std::fill(bytes.begin() + 8, bytes.end(), 0);
  std::array<char, INET6_ADDRSTRLEN> text{};
  return ::inet_ntop(AF_INET6, bytes.data(), text.data(), text.size()) != nullptr
             ? std::string(text.data()) + "/64"
             : client;
}

} // namespace

Dashboard::Dashboard(DashboardOptions options, const DepthHistory& history)
    : m_options(std::move(options)), m_history(history), m_sessions(m_options.session_lifetime) {}

db::Connection& Dashboard::connection() {
  if (!m_connection || !m_connection->is_ok()) {
    m_connection.reset();
    // A slow statement holds up every browser (one request at a time): it is cut short.
    m_connection.emplace(m_options.dsn,
                         "pgtqctl web",
                         db::SessionSettings{.lock_timeout = std::chrono::seconds(2),
                                             .statement_timeout = std::chrono::seconds(10)});
    PQsetErrorContextVisibility(m_connection->native(), PQSHOW_CONTEXT_NEVER);
  }
  return *m_connection;
}

http::HttpResponse Dashboard::handle(const http::HttpRequest& request) {
  if (!host_allowed(http::HttpRequest::get(request.header, "host"),
                    m_options.allowed_hosts,
                    request.local_port)) {
    return {.status = 421,
            .body = "misdirected request: the Host header names no address of this dashboard "
                    "(pgtqctl web --allowed-host adds one)\n"};
  }
  const std::string& token = http::HttpRequest::get(request.cookie, k_cookie);
  const std::optional<SessionStore::Session> session =
      m_options.password && !token.empty() ? m_sessions.find(token) : std::nullopt;
  try {
    if (request.method == "POST") {
      return post(request, session);
    }
    if (m_options.password && !session && request.path != "/login") {
      return redirect("/login?back=" + url_encode(address_of(request)));
    }
    PageContext context{.can_act = session.has_value(),
                        .needs_login = m_options.password.has_value(),
                        .csrf = session ? session->csrf : "",
                        .back = address_of(request),
                        .refresh_seconds = 0};
    http::HttpResponse response = get(request, context);
    if (session && response.status == 200) {
      const std::string note = m_sessions.take_note(session->token);
      if (!note.empty()) { // after the <h1>: what the action just done did
        const std::size_t at = response.body.find("</h1>");
        response.body.insert(at == std::string::npos ? 0 : at + 5,
                             "<p class=\"note\" id=\"note\">" + html_escape(note) + "</p>");
      }
    }
    return response;
  } catch (const ctl::UsageError& bad) {
    return html(400, page(PageContext{}, "Bad request", "<p>" + html_escape(bad.what()) + "</p>"));
  } catch (const db::PgError& error) {
    if (error.is_connection_error()) {
      m_connection.reset();
    }
    spdlog::warn("dashboard: {} {}: {}", request.method, request.path, error.what());
    return html(error.is_connection_error() ? 503 : 500,
                page(PageContext{},
                     "Database error",
                     "<p class=\"note\">" + html_escape(error.what()) + " (SQLSTATE " +
                         html_escape(error.sqlstate()) + ")</p>"));
  }
}

http::HttpResponse Dashboard::get(const http::HttpRequest& request, PageContext context) {
  const std::string& path = request.path;
  if (path == "/" || path == "/queues") {
    context.refresh_seconds = m_options.refresh_seconds;
    return html(200, queues_page(connection(), m_history, context));
  }
  if (path == "/tasks") {
    return html(200, tasks_page(connection(), request, context));
  }
  if (path == "/task") {
    const std::int64_t id =
        ctl::parse_task_id(http::HttpRequest::get(request.query, "id"), "task id");
    if (std::optional<std::string> body = task_page(connection(), id, context)) {
      return html(200, std::move(*body));
    }
    return html(404, page(context, "No such task", "<p>No task has that id.</p>"));
  }
  if (path == "/failures") {
    return html(200, failures_page(connection(), context));
  }
  if (path == "/workers") {
    return html(200, workers_page(connection(), context));
  }
  if (path == "/schedules") {
    return html(200, schedules_page(connection(), context));
  }
  if (path == "/login") {
    if (!m_options.password) {
      return redirect("/");
    }
    return html(200, login_page("", local_path(http::HttpRequest::get(request.query, "back"))));
  }
  return html(404, page(context, "Not found", "<p>No such page.</p>"));
}

http::HttpResponse Dashboard::post(const http::HttpRequest& request,
                                   const std::optional<SessionStore::Session>& session) {
  if (!same_origin(request)) {
    return refused("Cross-site request refused: its Origin (or Referer) is not this "
                   "dashboard's.");
  }
  if (!m_options.password) {
    return refused("This dashboard is read-only: it was started without credentials.");
  }
  if (request.path == "/login") {
    return log_in(request);
  }
  if (!session) {
    return refused("Log in first: no session, or it expired.");
  }
  if (!constant_time_equal(session->csrf, http::HttpRequest::get(request.form, "csrf"))) {
    return refused("The form's CSRF token is missing or wrong: load the page again.");
  }
  if (request.path == "/logout") {
    m_sessions.remove(session->token);
    http::HttpResponse response = redirect("/");
    response.headers.emplace_back("Set-Cookie", session_cookie("", 0, over_tls(request)));
    return response;
  }
  const std::string prefix = "/action/";
  if (request.path.rfind(prefix, 0) != 0) {
    return html(404, page(PageContext{}, "Not found", "<p>No such action.</p>"));
  }
  const std::string action = request.path.substr(prefix.size());
  const ActionOutcome outcome = run_action(connection(), action, request.form);
  if (!outcome.known) {
    return html(404, page(PageContext{}, "Not found", "<p>No such action.</p>"));
  }
  spdlog::info("dashboard: {}", outcome.message);
  m_sessions.set_note(session->token, outcome.message);
  return redirect(local_path(http::HttpRequest::get(request.form, "back")));
}

http::HttpResponse Dashboard::log_in(const http::HttpRequest& request) {
  const std::string back = local_path(http::HttpRequest::get(request.form, "back"));
  const auto now = std::chrono::steady_clock::now();
  const std::string client = throttle_key(request.client_address);
  const auto known = m_failed_logins.find(client);
  if (known != m_failed_logins.end() && known->second.in_a_row >= k_free_failed_logins &&
      now - known->second.last < std::chrono::seconds(1)) {
    known->second.last = now;
    return html(429, login_page("Too many wrong passwords: try again in a second.", back));
  }
  if (!constant_time_equal(*m_options.password, http::HttpRequest::get(request.form, "password"))) {
    spdlog::warn("dashboard: a login with a wrong password from {}", request.client_address);
    if (known == m_failed_logins.end() && m_failed_logins.size() >= k_max_clients) {
      m_failed_logins.erase(std::min_element(
          m_failed_logins.begin(), m_failed_logins.end(), [](const auto& a, const auto& b) {
            return a.second.last < b.second.last;
          }));
    }
    FailedLogins& failed = m_failed_logins[client];
    ++failed.in_a_row;
    failed.last = now;
    return html(403, login_page("Wrong password.", back));
  }
  m_failed_logins.erase(client);
  const SessionStore::Session session = m_sessions.create();
  http::HttpResponse response = redirect(back);
  response.headers.emplace_back("Set-Cookie",
                                session_cookie(session.token,
                                               static_cast<long>(m_sessions.lifetime().count()),
                                               over_tls(request)));
  return response;
}

} // namespace pgtq::web
