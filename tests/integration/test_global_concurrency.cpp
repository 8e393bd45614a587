// A queue's global concurrency limit (pgtq.set_global_concurrency, pgtq.claim): never more
// tasks running than the limit, however many claim at the same instant, and waiting workers
// learn of the room a finished task leaves without polling.
#include "pgtq/client.hpp"
#include "support/daemon_process.hpp"
#include "support/sql.hpp"
#include "support/task_state.hpp"
#include "support/test_database.hpp"

#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

using namespace pgtq;
using namespace pgtq::test;
using namespace std::chrono_literals;

namespace {

long long running(db::Connection& conn, const std::string& queue) {
  return count(
      conn, "SELECT count(*) FROM pgtq.live_tasks WHERE queue = $1 AND state = 'running'", {queue});
}

} // namespace

TEST_CASE("claims of a limited queue at the same instant never take more than the limit") {
  TestDatabase database;
  db::Connection conn = database.connect();
  PGconn* pg = conn.native();
  for (int i = 0; i < 30; ++i) {
    push(pg, "q", "t", i);
  }
  set_global_concurrency(pg, "q", 3);

  constexpr int k_claimers = 8;
  std::vector<db::Connection> connections;
  for (int i = 0; i < k_claimers; ++i) {
    connections.push_back(database.connect());
  }
  std::atomic<int> claimed{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < k_claimers; ++i) {
    threads.emplace_back([&, i] {
      connections[i].run_script("BEGIN");
      claimed += static_cast<int>(
          count(connections[i], "SELECT count(*) FROM pgtq.claim('q', '{t}', 10, 'w')"));
      // Each claim stays uncommitted for a while: one that did not wait its turn would count
      // none of the others' and take three of its own.
      std::this_thread::sleep_for(100ms);
      connections[i].run_script("COMMIT");
    });
  }
  for (std::thread& thread : threads) {
    thread.join();
  }
  CHECK(claimed.load() == 3);
  CHECK(running(conn, "q") == 3);

  // One ends: room for one. Other queues are not limited.
  const std::vector<ClaimedTask> more = pop(pg, "q", {"t"}, 10, "w");
  CHECK(more.empty());
  REQUIRE(query(conn,
                "SELECT pgtq.complete(id, claim) FROM pgtq.live_tasks"
                " WHERE queue = 'q' AND state = 'running' LIMIT 1")
              .rows() == 1);
  CHECK(pop(pg, "q", {"t"}, 10, "w").size() == 1);
  push(pg, "other", "t", 1);
  push(pg, "other", "t", 2);
  CHECK(pop(pg, "other", {"t"}, 10, "w").size() == 2);

  // Raised, lowered (running tasks stay), removed.
  set_global_concurrency(pg, "q", 5);
  CHECK(pop(pg, "q", {"t"}, 10, "w").size() == 2);
  set_global_concurrency(pg, "q", 1);
  CHECK(pop(pg, "q", {"t"}, 10, "w").empty());
  CHECK(running(conn, "q") == 5);
  set_global_concurrency(pg, "q", std::nullopt);
  CHECK(pop(pg, "q", {"t"}, 10, "w").size() == 10);
  CHECK_THROWS_AS(set_global_concurrency(pg, "q", 0), Error);
}

TEST_CASE("pgtqd daemons sharing a limited queue run no more than the limit at once, and are "
          "woken by the room finished tasks leave") {
  TestDatabase database;
  db::Connection conn = database.connect();
  PGconn* pg = conn.native();
  set_global_concurrency(pg, "default", 2);
  // A poll interval of 10 minutes: only wake-ups can start the tasks beyond the first two.
  std::vector<std::unique_ptr<DaemonProcess>> daemons;
  for (int i = 0; i < 2; ++i) {
    daemons.push_back(std::make_unique<DaemonProcess>(DaemonProcess::Options{
        .dsn = database.dsn(),
        .extra_args = {"--poll-interval", "600", "--concurrency", "4", "--prefetch", "0"}}));
    REQUIRE_MESSAGE(daemons.back()->wait_for_log("listening as", 20s), daemons.back()->log());
  }
  std::vector<std::int64_t> ids;
  for (int i = 0; i < 8; ++i) {
    ids.push_back(push(pg, "default", "sleep", 0.2));
  }
  long long most = 0;
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (
      std::chrono::steady_clock::now() < deadline &&
      count(conn, "SELECT count(*) FROM pgtq.tasks WHERE task = 'sleep' AND state = 'succeeded'") <
          8) {
    most = std::max(most, running(conn, "default"));
    std::this_thread::sleep_for(5ms);
  }
  CHECK(most <= 2);
  CHECK(most == 2);
  for (const std::int64_t id : ids) {
    CHECK_MESSAGE(field(conn, "state", std::to_string(id)) == "succeeded", daemons[0]->log());
  }
}
