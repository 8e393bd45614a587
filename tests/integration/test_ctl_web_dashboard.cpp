// pgtqctl web without a browser: the read-only loopback mode, the refusal to serve another
// address without credentials, the login and the pages it guards, the Host check, the CSRF
// and origin checks on actions (each refused POST changes nothing in the database), "retry
// all" of a failure group, and the escaping of what tasks carry.
#include "support/ctl_process.hpp"
#include "support/daemon_process.hpp"
#include "support/http_get.hpp"
#include "support/role_logins.hpp"
#include "support/sql.hpp"
#include "support/test_database.hpp"

#include <doctest/doctest.h>

#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <regex>
#include <string>
#include <thread>

using namespace pgtq;
using namespace pgtq::test;
using namespace std::chrono_literals;

namespace {

constexpr const char* k_password = "correct horse battery";

// pgtqctl web on a free loopback port, with a password file when password is not empty.
class WebProcess {
public:
  WebProcess(const std::string& dsn, const std::string& password) {
    std::vector<std::string> args = {
        "web", "--dsn", dsn, "--listen", "127.0.0.1:0", "--refresh", "0"};
    if (!password.empty()) {
      m_password_file = "/tmp/pgtq-web-test-" + std::to_string(::getpid()) + ".password";
      std::ofstream(m_password_file) << password << '\n';
      args.insert(args.end(), {"--password-file", m_password_file});
    }
    m_process.emplace(
        DaemonProcess::Options{.extra_args = args,
                               .config_only = true,
                               .program = std::string(PGTQ_TEST_BINARY_DIR) + "/daemon/pgtqctl"});
    REQUIRE(m_process->wait_for_log("dashboard served at", 10s));
    std::smatch match;
    const std::string log = m_process->log();
    REQUIRE(std::regex_search(log, match, std::regex(R"(127\.0\.0\.1:(\d+)/)")));
    m_port = static_cast<std::uint16_t>(std::stoi(match[1].str()));
  }
  ~WebProcess() {
    if (!m_password_file.empty()) {
      std::remove(m_password_file.c_str());
    }
  }
  WebProcess(const WebProcess&) = delete;
  WebProcess& operator=(const WebProcess&) = delete;

  std::uint16_t port() const { return m_port; }
  std::string origin() const { return "http://127.0.0.1:" + std::to_string(m_port); }

private:
  std::string m_password_file;
  std::optional<DaemonProcess> m_process;
  std::uint16_t m_port = 0;
};

std::string header_value(const std::string& head, const std::string& name) {
  std::smatch match;
  REQUIRE(
      std::regex_search(head, match, std::regex("\r\n" + name + ": ([^\r]*)", std::regex::icase)));
  return match[1].str();
}

// Logs in; the cookie header line to send with later requests.
std::string log_in(const WebProcess& web) {
  const HttpReply reply = http_request(web.port(),
                                       "/login",
                                       "POST",
                                       "Origin: " + web.origin() + "\r\n",
                                       std::string("back=%2F&password=") + "correct+horse+battery");
  REQUIRE(reply.status == 303);
  const std::string cookie = header_value(reply.head, "Set-Cookie");
  CHECK(cookie.find("HttpOnly") != std::string::npos);
  CHECK(cookie.find("SameSite=Strict") != std::string::npos);
  CHECK(cookie.find("Secure") == std::string::npos); // plain HTTP, no proxy said https
  return "Cookie: " + cookie.substr(0, cookie.find(';')) + "\r\n";
}

// The CSRF token of the session's pages.
std::string csrf_of(const std::string& page) {
  std::smatch match;
  REQUIRE(std::regex_search(page, match, std::regex(R"re(name="csrf" value="([0-9a-f]{64})")re")));
  return match[1].str();
}

std::string cancelled_task(db::Connection& sql) {
  const std::string id = scalar(sql, "SELECT pgtq.push('web', 'echo')");
  REQUIRE(scalar(sql, "SELECT pgtq.cancel($1::bigint)", {id}) == "t");
  return id;
}

std::string state_of(db::Connection& sql, const std::string& id) {
  return scalar(sql, "SELECT state FROM pgtq.tasks WHERE id = $1::bigint", {id});
}

} // namespace

TEST_CASE("web: on loopback without credentials the dashboard is read-only") {
  TestDatabase database;
  db::Connection sql = database.connect();
  const std::string id = cancelled_task(sql);
  RoleLogins logins(database, {"pgtq_operator"}); // what the dashboard may do
  WebProcess web(logins.login_dsn(database, 0), "");

  const std::vector<std::string> paths = {
      "/", "/tasks", "/task?id=" + id, "/failures", "/workers", "/schedules"};
  for (const std::string& path : paths) {
    const HttpReply reply = http_request(web.port(), path);
    INFO(path);
    CHECK(reply.status == 200);
    CHECK(reply.body.find("method=\"post\"") == std::string::npos); // no action, no logout
    CHECK(reply.body.find("read-only") != std::string::npos);
  }
  const HttpReply refused = http_request(
      web.port(), "/action/retry", "POST", "Origin: " + web.origin() + "\r\n", "id=" + id);
  CHECK(refused.status == 403);
  CHECK(state_of(sql, id) == "cancelled");
  CHECK(http_request(
            web.port(), "/login", "POST", "Origin: " + web.origin() + "\r\n", "password=anything")
            .status == 403);
}

TEST_CASE("web: without credentials pgtqctl web refuses a non-loopback address") {
  TestDatabase database;
  const Run run = pgtqctl(database.dsn(), {"web", "--listen", "0.0.0.0:0"});
  CHECK(run.exit_code == 78);
  CHECK(run.output.find("without credentials") != std::string::npos);
  CHECK(pgtqctl(database.dsn(), {"web", "--listen", "nowhere"}).exit_code == 64);
  CHECK(pgtqctl(database.dsn(), {"web", "--password-file", "/nonexistent/password"}).exit_code ==
        78);
}

TEST_CASE("web: a wrong password is refused, the right one gives a session") {
  TestDatabase database;
  RoleLogins logins(database, {"pgtq_operator"}); // what the dashboard may do
  WebProcess web(logins.login_dsn(database, 0), k_password);
  const HttpReply wrong = http_request(
      web.port(), "/login", "POST", "Origin: " + web.origin() + "\r\n", "password=guess");
  CHECK(wrong.status == 403);
  CHECK(wrong.head.find("Set-Cookie") == std::string::npos);
  CHECK(wrong.body.find("Wrong password") != std::string::npos);
  // The right password from another site's form: refused too (login CSRF).
  CHECK(http_request(web.port(),
                     "/login",
                     "POST",
                     "Origin: http://evil.example\r\n",
                     "password=correct+horse+battery")
            .status == 403);
  // Guessing on: after five wrong ones in a row, one try a second.
  for (int i = 0; i < 4; ++i) {
    CHECK(http_request(
              web.port(), "/login", "POST", "Origin: " + web.origin() + "\r\n", "password=guess")
              .status == 403);
  }
  CHECK(http_request(
            web.port(), "/login", "POST", "Origin: " + web.origin() + "\r\n", "password=guess")
            .status == 429);
  std::this_thread::sleep_for(1100ms);
  const std::string cookie = log_in(web);
  const HttpReply queues = http_request(web.port(), "/", "GET", cookie);
  CHECK(queues.status == 200);
  CHECK(queues.body.find("id=\"logout\"") != std::string::npos);
}

TEST_CASE("web: with credentials, every page but the login needs a session") {
  TestDatabase database;
  db::Connection sql = database.connect();
  const std::string id = scalar(sql, "SELECT pgtq.push('secret-queue', 'secret-task')");
  RoleLogins logins(database, {"pgtq_operator"}); // what the dashboard may do
  WebProcess web(logins.login_dsn(database, 0), k_password);
  const std::vector<std::string> paths = {
      "/", "/tasks", "/task?id=" + id, "/failures", "/workers", "/schedules", "/nonexistent"};
  for (const std::string& path : paths) {
    INFO(path);
    for (const std::string& cookie :
         {std::string(), std::string("Cookie: pgtq_session=") + std::string(64, 'f') + "\r\n"}) {
      const HttpReply reply = http_request(web.port(), path, "GET", cookie);
      CHECK(reply.status == 303);
      CHECK(header_value(reply.head, "Location").rfind("/login?back=", 0) == 0);
      CHECK(reply.body.find("secret") == std::string::npos); // no task data
      CHECK(reply.body.find("<table") == std::string::npos);
    }
  }
  CHECK(http_request(web.port(), "/task?id=" + id, "HEAD").status == 303);
  const HttpReply login = http_request(web.port(), "/login?back=%2Ftasks");
  CHECK(login.status == 200);
  CHECK(login.body.find("id=\"password\"") != std::string::npos);
  CHECK(login.body.find("secret") == std::string::npos);
  const std::string cookie = log_in(web);
  const HttpReply task = http_request(web.port(), "/task?id=" + id, "GET", cookie);
  CHECK(task.status == 200);
  CHECK(task.body.find("secret-task") != std::string::npos);
}

TEST_CASE("web: a request whose Host names another site is refused (DNS rebinding)") {
  TestDatabase database;
  db::Connection sql = database.connect();
  const std::string id = cancelled_task(sql);
  RoleLogins logins(database, {"pgtq_operator"}); // what the dashboard may do
  WebProcess web(logins.login_dsn(database, 0), "");
  const std::string port = std::to_string(web.port());
  for (const std::string& host : {std::string("evil.example"), "evil.example:" + port}) {
    INFO(host);
    const HttpReply reply =
        http_request(web.port(), "/task?id=" + id, "GET", "Host: " + host + "\r\n");
    CHECK(reply.status == 421);
    CHECK(reply.body.find("echo") == std::string::npos);
    CHECK(http_request(web.port(),
                       "/login",
                       "POST",
                       "Host: " + host + "\r\nOrigin: http://" + host + "\r\n",
                       "password=anything")
              .status == 421);
  }
  for (const std::string& host : {"localhost:" + port, "LOCALHOST:" + port, "[::1]:" + port}) {
    INFO(host);
    CHECK(http_request(web.port(), "/", "GET", "Host: " + host + "\r\n").status == 200);
  }
  CHECK(http_request(web.port(), "/", "GET", "Host: 127.0.0.1:1\r\n").status == 421);
  CHECK(http_request(web.port(), "/").status == 200); // Host: 127.0.0.1:PORT
  CHECK(pgtqctl(database.dsn(), {"web", "--allowed-host", "http://x"}).exit_code == 64);
}

TEST_CASE("web: retry all of a failure group retries that group's tasks only") {
  TestDatabase database;
  db::Connection sql = database.connect();
  // Failed tasks of web/echo: two saying "refused", one saying "connection refused" (which
  // contains "refused"), one of another task saying "refused".
  const auto failed = [&](const std::string& task, const std::string& error) {
    const std::string id = scalar(sql, "SELECT pgtq.push('web', $1)", {task});
    query(sql,
          "WITH c AS (SELECT * FROM pgtq.claim('web', ARRAY[$1::text], 1, 'w'))"
          " SELECT pgtq.fail(c.id, c.claim, $2, permanent => true) FROM c",
          {task, error});
    REQUIRE(state_of(sql, id) == "failed");
    return id;
  };
  const std::string first = failed("echo", "refused");
  const std::string longer = failed("echo", "connection refused");
  const std::string latest = failed("echo", "refused");
  const std::string other_task = failed("other", "refused");
  RoleLogins logins(database, {"pgtq_operator"}); // what the dashboard may do
  WebProcess web(logins.login_dsn(database, 0), k_password);
  const std::string cookie = log_in(web);
  const HttpReply failures = http_request(web.port(), "/failures", "GET", cookie);
  REQUIRE(failures.status == 200);
  // The group's form names its latest task, not its error.
  CHECK(failures.body.find("name=\"id\" value=\"" + latest + "\"") != std::string::npos);
  CHECK(failures.body.find("name=\"error\"") == std::string::npos);
  const HttpReply done =
      http_request(web.port(),
                   "/action/retry-group",
                   "POST",
                   "Origin: " + web.origin() + "\r\n" + cookie,
                   "id=" + latest + "&back=%2Ffailures&csrf=" + csrf_of(failures.body));
  CHECK(done.status == 303);
  CHECK(state_of(sql, first) == "queued");
  CHECK(state_of(sql, latest) == "queued");
  CHECK(state_of(sql, longer) == "failed");
  CHECK(state_of(sql, other_task) == "failed");
  CHECK(http_request(web.port(), "/failures", "GET", cookie)
            .body.find("2 failed task(s) like task " + latest + " retried") != std::string::npos);
}

TEST_CASE("web: an action needs a session, its CSRF token and the dashboard's origin") {
  TestDatabase database;
  db::Connection sql = database.connect();
  const std::string id = cancelled_task(sql);
  RoleLogins logins(database, {"pgtq_operator"}); // what the dashboard may do
  WebProcess web(logins.login_dsn(database, 0), k_password);
  const std::string cookie = log_in(web);
  const HttpReply task = http_request(web.port(), "/task?id=" + id, "GET", cookie);
  REQUIRE(task.status == 200);
  CHECK(task.body.find("action-retry") != std::string::npos);
  const std::string csrf = csrf_of(task.body);
  const std::string own = "Origin: " + web.origin() + "\r\n";
  const std::string form = "id=" + id + "&back=%2F";

  SUBCASE("refused") {
    // No session.
    CHECK(http_request(web.port(), "/action/retry", "POST", own, form + "&csrf=" + csrf).status ==
          403);
    // No CSRF token, a wrong one, another session's.
    CHECK(http_request(web.port(), "/action/retry", "POST", own + cookie, form).status == 403);
    CHECK(http_request(
              web.port(), "/action/retry", "POST", own + cookie, form + "&csrf=" + csrf.substr(1))
              .status == 403);
    // Another site, a missing Origin with a foreign Referer, neither header.
    CHECK(http_request(web.port(),
                       "/action/retry",
                       "POST",
                       "Origin: http://evil.example\r\n" + cookie,
                       form + "&csrf=" + csrf)
              .status == 403);
    CHECK(http_request(web.port(),
                       "/action/retry",
                       "POST",
                       "Referer: http://evil.example/page\r\n" + cookie,
                       form + "&csrf=" + csrf)
              .status == 403);
    CHECK(
        http_request(web.port(), "/action/retry", "POST", cookie, form + "&csrf=" + csrf).status ==
        403);
    // GET never acts.
    CHECK(
        http_request(web.port(), "/action/retry?" + form + "&csrf=" + csrf, "GET", cookie).status ==
        404);
    CHECK(state_of(sql, id) == "cancelled");
  }
  SUBCASE("accepted") {
    const HttpReply done =
        http_request(web.port(), "/action/retry", "POST", own + cookie, form + "&csrf=" + csrf);
    CHECK(done.status == 303);
    CHECK(header_value(done.head, "Location") == "/");
    CHECK(state_of(sql, id) == "queued");
    CHECK(http_request(web.port(), "/", "GET", cookie).body.find("task " + id + " retried") !=
          std::string::npos);
    // A back field elsewhere is not followed.
    query(sql, "SELECT pgtq.cancel($1::bigint)", {id});
    const HttpReply away = http_request(web.port(),
                                        "/action/retry",
                                        "POST",
                                        own + cookie,
                                        "id=" + id + "&back=%2F%2Fevil.example&csrf=" + csrf);
    CHECK(header_value(away.head, "Location") == "/");
  }
}

TEST_CASE("web: what tasks carry is escaped on every page") {
  TestDatabase database;
  db::Connection sql = database.connect();
  const std::string id = scalar(
      sql,
      "SELECT pgtq.push('web', 'echo', '[\"<script>alert(1)</script>\"]', tags => '{\"<b>\"}')");
  RoleLogins logins(database, {"pgtq_operator"}); // what the dashboard may do
  WebProcess web(logins.login_dsn(database, 0), "");
  const HttpReply task = http_request(web.port(), "/task?id=" + id);
  REQUIRE(task.status == 200);
  CHECK(task.body.find("<script>") == std::string::npos);
  CHECK(task.body.find("&lt;script&gt;alert(1)&lt;/script&gt;") != std::string::npos);
  CHECK(task.body.find("&lt;b&gt;") != std::string::npos);
  const HttpReply list = http_request(web.port(), "/tasks?tag=%3Cb%3E");
  CHECK(list.body.find("data-id=\"" + id + "\"") != std::string::npos);
  CHECK(list.body.find("<b>") == std::string::npos);
  CHECK(http_request(web.port(), "/task?id=999999").status == 404);
  CHECK(http_request(web.port(), "/task?id=x").status == 400);
  CHECK(http_request(web.port(), "/tasks?created_after=never%3F").body.find("class=\"note\"") !=
        std::string::npos);
}
