// The task releaser on its own, against a real database: tasks no worker started go back to
// the queue, and at the end of the grace period only attempts still running do.
#include "db/pg_error.hpp"
#include "pgtq/client.hpp"
#include "queue/task_releaser.hpp"
#include "support/sql.hpp"
#include "support/task_state.hpp"
#include "support/test_database.hpp"

#include <doctest/doctest.h>

#include <vector>

using namespace pgtq;
using namespace pgtq::test;

namespace {

// Claims `count` tasks of queue "q" into in_flight, as the claim loop does.
std::vector<queue::ClaimedTask>
claim(db::Connection& connection, queue::InFlightTasks& in_flight, int count) {
  for (int i = 0; i < count; ++i) {
    push(connection.native(), "q", "t", i);
  }
  std::vector<queue::ClaimedTask> tasks;
  for (const auto& claimed : pop(connection.native(), "q", {"t"}, count, "w", 60s)) {
    in_flight.add(claimed.id, claimed.claim, queue::InFlightTasks::Clock::now() + 60s);
    tasks.push_back({.id = claimed.id, .claim = claimed.claim, .name = "t"});
  }
  REQUIRE(static_cast<int>(tasks.size()) == count);
  return tasks;
}

} // namespace

TEST_CASE("the task releaser gives back the tasks no worker started, and keeps them while "
          "the database refuses") {
  TestDatabase database;
  db::Connection connection = database.connect();
  db::Connection releasing = database.connect();
  queue::InFlightTasks in_flight;
  queue::TaskReleaser releaser(in_flight);
  auto tasks = claim(connection, in_flight, 3);
  const std::int64_t running = tasks[2].id;
  releaser.add(std::move(tasks[0]));
  releaser.add(std::vector<queue::ClaimedTask>{tasks[1]});

  query(releasing, "SET default_transaction_read_only = on");
  CHECK_THROWS_AS(releaser.release_not_started(releasing, false), db::PgError);
  CHECK(in_flight.size() == 3);
  query(releasing, "SET default_transaction_read_only = off");
  releaser.release_not_started(releasing, false);

  CHECK(field(connection, tasks[0].id, "state") == "queued");
  CHECK(field(connection, tasks[1].id, "state") == "queued");
  CHECK(field(connection, running, "state") == "running");
  CHECK(in_flight.size() == 1);
  CHECK(in_flight.find(running) != nullptr);
  // Nothing left to release.
  releaser.release_not_started(releasing, false);
  CHECK(in_flight.size() == 1);
}

TEST_CASE("at the end of the grace period the task releaser stops and gives back only the "
          "attempts still running") {
  TestDatabase database;
  db::Connection connection = database.connect();
  queue::InFlightTasks in_flight;
  queue::TaskReleaser releaser(in_flight);
  const auto tasks = claim(connection, in_flight, 2);
  const auto finished = in_flight.find(tasks[0].id);
  const auto unfinished = in_flight.find(tasks[1].id);
  finished->finished = true; // its outcome waits to be recorded

  releaser.release_unfinished(connection);
  CHECK(field(connection, tasks[0].id, "state") == "running");
  CHECK(field(connection, tasks[1].id, "state") == "queued");
  CHECK_FALSE(finished->stop.load());
  CHECK(unfinished->stop.load());
  CHECK(in_flight.size() == 1);
  CHECK(in_flight.find(tasks[0].id) == finished);
}
