// pgtqd's /metrics endpoint (metrics-listen): scraped while a real pgtqd drains a queue, its
// figures are checked against the database (depth, successes, a failure, a rescue, the
// handler histogram); the page passes promtool's check; other methods, paths and an address
// already in use are refused.
#include "support/daemon_process.hpp"
#include "support/http_get.hpp"
#include "support/sql.hpp"
#include "support/test_database.hpp"

#include <doctest/doctest.h>
#include <netinet/in.h>

#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <regex>
#include <string>

using namespace pgtq;
using namespace pgtq::test;
using namespace std::chrono_literals;

namespace {

// The samples of a page by their series as written, 'name{labels}' -> value.
std::map<std::string, double> samples(const std::string& page) {
  std::map<std::string, double> found;
  std::size_t at = 0;
  while (at < page.size()) {
    const std::size_t end = page.find('\n', at);
    const std::string line = page.substr(at, end - at);
    at = end == std::string::npos ? page.size() : end + 1;
    if (line.empty() || line[0] == '#') {
      continue;
    }
    const std::size_t space = line.rfind(' ');
    found[line.substr(0, space)] = std::stod(line.substr(space + 1));
  }
  return found;
}

double value(const std::map<std::string, double>& page, const std::string& series) {
  const auto it = page.find(series);
  INFO("series " << series);
  REQUIRE(it != page.end());
  return it->second;
}

// The port pgtqd logged ("metrics served at http://127.0.0.1:PORT/metrics").
std::uint16_t logged_port(const DaemonProcess& daemon) {
  REQUIRE(daemon.wait_for_log("metrics served at", 10s));
  std::smatch match;
  const std::string log = daemon.log();
  REQUIRE(std::regex_search(log, match, std::regex(R"(127\.0\.0\.1:(\d+)/metrics)")));
  return static_cast<std::uint16_t>(std::stoi(match[1].str()));
}

std::map<std::string, double> scrape(std::uint16_t port) {
  const HttpReply reply = http_request(port, "/metrics");
  REQUIRE(reply.status == 200);
  return samples(reply.body);
}

std::string series(const std::string& name, const std::string& labels) {
  return name + "{" + labels + "}";
}

} // namespace

TEST_CASE("metrics: /metrics while pgtqd drains a queue agrees with the database") {
  TestDatabase database;
  db::Connection sql = database.connect();
  // A queue nobody serves: its depth is the database's, exactly.
  for (int i = 0; i < 3; ++i) {
    query(sql, "SELECT pgtq.push('idle', 'echo')");
  }
  query(sql, "SELECT pgtq.push('idle', 'echo', delay => interval '1 hour')");
  // A task claimed by a worker that died: its lease runs out in a second, and the scheduler
  // rescues it.
  const std::string orphan = scalar(sql, "SELECT pgtq.push('default', 'echo', '[\"orphan\"]')");
  REQUIRE(scalar(sql,
                 "SELECT count(*) FROM pgtq.claim('default', '{echo}', 1, 'gone:1', "
                 "interval '1 second')") == "1");
  // One that fails for good, and a backlog that takes a few seconds with two workers.
  const std::string doomed =
      scalar(sql, "SELECT pgtq.push('default', 'flaky', '{\"fail_times\": 5}', max_attempts => 1)");
  for (int i = 0; i < 12; ++i) {
    query(sql, "SELECT pgtq.push('default', 'sleep', '[0.4]')");
  }

  DaemonProcess daemon(
      {.dsn = database.dsn(),
       .extra_args = {"--metrics-listen", "127.0.0.1:0", "--concurrency", "2", "--prefetch", "0"}});
  const std::uint16_t port = logged_port(daemon);

  auto page = scrape(port);
  CHECK(value(page, "pgtq_database_up") == 1);
  CHECK(value(page, series("pgtq_queue_tasks", R"(queue="idle",state="queued")")) == 3);
  CHECK(value(page, series("pgtq_queue_tasks", R"(queue="idle",state="scheduled")")) == 1);
  CHECK(value(page, series("pgtq_queue_live_workers", R"(queue="idle")")) == 0);
  CHECK(value(page, series("pgtq_workers", R"(queue="default")")) == 2);

  // While the backlog drains: both workers busy at some scrape, and the queue's depth, read
  // again every 5 s at most, falls.
  const double first_depth =
      value(page, series("pgtq_queue_tasks", R"(queue="default",state="queued")"));
  bool saw_busy = false;
  bool saw_fall = false;
  REQUIRE(eventually(
      [&] {
        const auto now = scrape(port);
        saw_busy = saw_busy || value(now, series("pgtq_workers_busy", R"(queue="default")")) == 2;
        saw_fall = saw_fall ||
                   value(now, series("pgtq_queue_tasks", R"(queue="default",state="queued")")) <
                       first_depth;
        return saw_busy && saw_fall;
      },
      20s));

  // Drained: every task of the queue ended, the orphan after its rescue.
  REQUIRE(eventually(
      [&] {
        return count(sql, "SELECT count(*) FROM pgtq.live_tasks WHERE queue = 'default'") == 0;
      },
      30s));
  CHECK(scalar(sql, "SELECT state FROM pgtq.tasks WHERE id = $1", {orphan}) == "succeeded");
  CHECK(scalar(sql, "SELECT state FROM pgtq.tasks WHERE id = $1", {doomed}) == "failed");

  // The daemon's counters against the history.
  page = scrape(port);
  const auto ended = [&](const std::string& task, const std::string& state) {
    return static_cast<double>(count(sql,
                                     "SELECT count(*) FROM pgtq.finished_tasks WHERE queue = "
                                     "'default' AND task = $1 AND state = $2::pgtq.task_state",
                                     {task, state}));
  };
  CHECK(
      value(page,
            series("pgtq_attempts_total", R"(queue="default",task="sleep",outcome="succeeded")")) ==
      ended("sleep", "succeeded"));
  CHECK(ended("sleep", "succeeded") == 12);
  CHECK(value(page,
              series("pgtq_attempts_total", R"(queue="default",task="flaky",outcome="failed")")) ==
        ended("flaky", "failed"));
  CHECK(
      value(page,
            series("pgtq_attempts_total", R"(queue="default",task="echo",outcome="succeeded")")) ==
      ended("echo", "succeeded"));
  CHECK(value(page, series("pgtq_rescued_tasks_total", R"(outcome="requeued")")) == 1);
  CHECK(value(page, series("pgtq_claimed_tasks_total", R"(queue="default")")) == 14);
  // Each sleep ran 0.4 s: all 12 in the histogram's 0.5 s bucket, none in the 0.25 s one.
  CHECK(value(page,
              series("pgtq_handler_duration_seconds_count", R"(queue="default",task="sleep")")) ==
        12);
  CHECK(value(page,
              series("pgtq_handler_duration_seconds_bucket",
                     R"(queue="default",task="sleep",le="0.25")")) == 0);
  CHECK(value(page,
              series("pgtq_handler_duration_seconds_bucket",
                     R"(queue="default",task="sleep",le="0.5")")) == 12);
  CHECK(
      value(page, series("pgtq_handler_duration_seconds_sum", R"(queue="default",task="sleep")")) >=
      12 * 0.4);
  // Read again after at most 5 s: the served queue's depth is the database's.
  REQUIRE(eventually(
      [&] {
        const auto now = scrape(port);
        return value(now, series("pgtq_queue_tasks", R"(queue="default",state="queued")")) == 0 &&
               value(now, series("pgtq_queue_live_workers", R"(queue="default")")) == 1;
      },
      10s));

  // The format, as Prometheus's own checker reads it.
  const std::string path = "/tmp/pgtq-metrics-" + std::to_string(::getpid()) + ".txt";
  std::ofstream(path) << http_request(port, "/metrics").body;
  INFO("promtool comes with Debian's prometheus package (scripts/test.sh installs it)");
  REQUIRE(::access("/usr/bin/promtool", X_OK) == 0);
  const std::string command = "/usr/bin/promtool check metrics < " + path + " 2>&1";
  FILE* checker = ::popen(command.c_str(), "r");
  std::string said;
  char buffer[512];
  while (std::fgets(buffer, sizeof buffer, checker) != nullptr) {
    said += buffer;
  }
  const int status = ::pclose(checker);
  std::remove(path.c_str());
  INFO(said);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  CHECK(said.empty()); // promtool also prints lint problems (names, units) with status 0 or 3
}

TEST_CASE("metrics: only GET and HEAD of /metrics and / are answered") {
  TestDatabase database;
  DaemonProcess daemon({.dsn = database.dsn(), .extra_args = {"--metrics-listen", "127.0.0.1:0"}});
  const std::uint16_t port = logged_port(daemon);
  CHECK(http_request(port, "/metrics", "POST").status == 405);
  CHECK(http_request(port, "/metrics", "DELETE").status == 405);
  CHECK(http_request(port, "/metrics", "HEAD").status == 200);
  CHECK(http_request(port, "/nothing").status == 404);
  CHECK(http_request(port, "/").status == 200);
}

TEST_CASE("metrics: an address pgtqd cannot listen on stops it with status 78 before any claim") {
  TestDatabase database;
  db::Connection sql = database.connect();
  const std::string id = scalar(sql, "SELECT pgtq.push('default', 'echo')");
  // A port taken by this test.
  const int taken = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(taken, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0);
  REQUIRE(::listen(taken, 1) == 0);
  socklen_t length = sizeof address;
  ::getsockname(taken, reinterpret_cast<sockaddr*>(&address), &length);
  const std::string where = "127.0.0.1:" + std::to_string(ntohs(address.sin_port));

  DaemonProcess daemon({.dsn = database.dsn(), .extra_args = {"--metrics-listen", where}});
  const auto status = daemon.wait_exit(15s);
  ::close(taken);
  REQUIRE(status);
  CHECK(WEXITSTATUS(*status) == 78);
  INFO(daemon.log());
  CHECK(daemon.log().find("metrics-listen: cannot listen on " + where) != std::string::npos);
  CHECK(scalar(sql, "SELECT state FROM pgtq.tasks WHERE id = $1", {id}) == "queued");

  DaemonProcess bad({.dsn = database.dsn(), .extra_args = {"--metrics-listen", "9187"}});
  const auto bad_status = bad.wait_exit(15s);
  REQUIRE(bad_status);
  CHECK(WEXITSTATUS(*bad_status) == 78);
  CHECK(bad.log().find("must be HOST:PORT") != std::string::npos);
}
