// The claim loop on its own (no pgtqd, no plugin file), against a real database.
#include "pgtq/client.hpp"
#include "plugin/handler_registry.hpp"
#include "plugin/plugin_set.hpp"
#include "queue/claim_loop.hpp"
#include "support/daemon_process.hpp"
#include "support/sql.hpp"
#include "support/test_database.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <memory>
#include <thread>

using namespace pgtq;
using namespace pgtq::test;

namespace {

std::atomic<int> handled{0};

pgtq_status count_and_succeed(void*, pgtq_task*) {
  ++handled;
  return PGTQ_DONE;
}

queue::ClaimLoopSettings settings_for(const TestDatabase& database) {
  queue::ClaimLoopSettings settings;
  settings.dsn = database.dsn();
  settings.queue = "q";
  settings.worker_name = "claim-loop-test";
  settings.lease = std::chrono::seconds(30);
  settings.heartbeat = std::chrono::seconds(5);
  settings.concurrency = 2;
  settings.prefetch = 1;
  // Only notifications (and full claims) make it claim.
  settings.poll_interval = std::chrono::minutes(10);
  settings.shutdown_grace = std::chrono::seconds(10);
  return settings;
}

} // namespace

TEST_CASE("the claim loop claims on a wake-up, runs and records every task, and ends its "
          "drain on a stop request") {
  TestDatabase database;
  db::Connection connection = database.connect();
  plugin::HandlerRegistry registry;
  pgtq_handler handler{};
  handler.struct_size = sizeof(pgtq_handler);
  handler.name = "t";
  handler.handle = count_and_succeed;
  REQUIRE(registry.add("test", handler, {}).empty());
  handled = 0;

  queue::DaemonState state;
  auto loop = std::make_unique<queue::ClaimLoop>(
      settings_for(database), plugin::PluginSet::of(std::move(registry)), state);
  std::thread thread([&] { loop->run(); });
  REQUIRE(eventually([&] { return state.ready.load(); }, 20s));
  // One push call with many tasks sends one wake-up: full claims fetch the rest.
  query(connection,
        "SELECT pgtq.push_many('q', (SELECT jsonb_agg(jsonb_build_object('task', "
        "'t', 'args', jsonb_build_array(i))) FROM generate_series(1, 25) i))");
  const bool all_done = eventually(
      [&] {
        return count(connection,
                     "SELECT count(*) FROM pgtq.finished_tasks "
                     "WHERE state = 'succeeded'") == 25;
      },
      30s);

  state.drain = true;
  loop->wake();
  thread.join();
  CHECK(all_done);
  CHECK(state.finished);
  CHECK(state.succeeded == 25);
  CHECK(state.failed == 0);
  CHECK(handled == 25);
  CHECK(count(connection, "SELECT count(*) FROM pgtq.live_tasks") == 0);
}
