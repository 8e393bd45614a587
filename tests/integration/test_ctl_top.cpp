// pgtqctl top: the live view, one frame with --once, frames until a signal without it.
#include "support/ctl_process.hpp"
#include "support/daemon_process.hpp"
#include "support/processes.hpp"
#include "support/sql.hpp"
#include "support/test_database.hpp"

#include <doctest/doctest.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <string>

using namespace pgtq;
using namespace pgtq::test;

namespace {

std::size_t occurrences(const std::string& text, const std::string& part) {
  std::size_t found = 0;
  for (std::size_t at = text.find(part); at != std::string::npos; at = text.find(part, at + 1)) {
    ++found;
  }
  return found;
}

} // namespace

TEST_CASE("pgtqctl top --once prints one frame of the queues and live workers") {
  TestDatabase database;
  db::Connection conn = database.connect();
  for (int i = 0; i < 3; ++i) {
    query(conn, "SELECT pgtq.push('mail', 'send')");
  }
  query(conn, "SELECT pgtq.push('mail', 'send', delay => '1 hour')");
  query(conn,
        "WITH c AS (SELECT * FROM pgtq.claim('mail', '{send}', 1, 'w'))"
        " SELECT pgtq.fail(c.id, c.claim, 'no', permanent => true) FROM c");
  query(conn, "SELECT pgtq.pause('images')");
  query(conn,
        "SELECT pgtq.worker_seen('host-a:7', 'mail', 'host-a', 7, '1.2.3', 8, 'process',"
        " '5 seconds', now())");

  const Run top = pgtqctl(database.dsn(), {"top", "--once"});
  REQUIRE_MESSAGE(top.exit_code == 0, top.output);
  CHECK(top.output.rfind("pgtqctl top ", 0) == 0);
  CHECK(occurrences(top.output, "pgtqctl top ") == 1);
  CHECK(top.output.find("queue   queued  scheduled  running  pending  oldest queued s  "
                        "succeeded 1h  failed 1h  workers  slots  paused") != std::string::npos);
  // mail: 2 queued, 1 scheduled, 0 running, 0 pending; 0 succeeded, 1 failed; 1 worker, 8 slots.
  CHECK_MESSAGE(top.output.find("mail    2       1          0        0        ") !=
                    std::string::npos,
                top.output);
  CHECK(top.output.find("  0             1          1        8") != std::string::npos);
  CHECK(top.output.find("images  0       0          0        0") != std::string::npos);
  CHECK(top.output.find("yes") != std::string::npos);
  CHECK(top.output.find("host-a:7  mail   host-a  7    0        8") != std::string::npos);
  // Not a terminal: no escape sequences.
  CHECK(top.output.find('\x1b') == std::string::npos);
}

TEST_CASE("pgtqctl top draws frames until it gets a signal, then exits 0") {
  TestDatabase database;
  // Its output goes to a file that the test reads while it runs: the signal is sent once three
  // frames are drawn, not after a fixed time (a slow start would take the signal before top
  // installs its handler, and be killed by it).
  char path[] = "/tmp/pgtqctl-top-XXXXXX";
  const int output_fd = ::mkstemp(path);
  REQUIRE(output_fd >= 0);
  const std::string binary = std::string(PGTQ_TEST_BINARY_DIR) + "/daemon/pgtqctl";
  const std::string dsn = database.dsn();
  const pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    const int null_fd = ::open("/dev/null", O_RDONLY);
    ::dup2(null_fd, STDIN_FILENO);
    ::dup2(output_fd, STDOUT_FILENO);
    ::dup2(output_fd, STDERR_FILENO);
    ::execl(binary.c_str(),
            binary.c_str(),
            "--dsn",
            dsn.c_str(),
            "top",
            "--interval",
            "0.2",
            static_cast<char*>(nullptr));
    ::_exit(127);
  }
  ::close(output_fd);
  const bool drawn = eventually([&] { return occurrences(read_text(path), "pgtqctl top ") >= 3; },
                                std::chrono::seconds(30));
  ::kill(pid, SIGINT);
  int status = 0;
  ::waitpid(pid, &status, 0);
  const std::string output = read_text(path);
  ::unlink(path);
  CHECK_MESSAGE(drawn, output);
  CHECK_MESSAGE(WIFEXITED(status), output);
  CHECK(WEXITSTATUS(status) == 0);
  CHECK(output.find("no live workers") != std::string::npos);

  const Run bad = pgtqctl(database.dsn(), {"top", "--interval", "0"});
  CHECK(bad.exit_code == 64);
  CHECK(bad.output.find("--interval") != std::string::npos);
}
