// The outcome recorder on its own, against a real database: batches, the one-by-one
// fallback, and outcomes kept across a lost connection.
#include "pgtq/client.hpp"
#include "queue/outcome_recorder.hpp"
#include "queue/sessions.hpp"
#include "support/daemon_process.hpp"
#include "support/function_calls.hpp"
#include "support/sql.hpp"
#include "support/task_state.hpp"
#include "support/test_database.hpp"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using namespace pgtq;
using namespace pgtq::test;
using queue::Outcome;
using queue::OutcomeStatus;
using queue::Recording;

namespace {

constexpr const char* k_recorder_name = "pgtq-test-recorder";

// An InFlightTasks, DaemonState and connected recorder, as the claim loop holds them.
struct Recorder {
  queue::InFlightTasks in_flight;
  queue::DaemonState state;
  queue::OutcomeRecorder recorder{in_flight, state};

  explicit Recorder(const TestDatabase& database) { connect(database); }
  void connect(const TestDatabase& database) {
    recorder.connect(database.dsn(), k_recorder_name, queue::work_session(1s), true);
  }

  // Claims `count` tasks of queue "q" and hands the recorder a "done" outcome for each,
  // with the given results; returns the ids in claim order.
  std::vector<std::int64_t> finish(db::Connection& connection,
                                   const std::vector<std::string>& results) {
    std::vector<std::int64_t> ids;
    for (std::size_t i = 0; i < results.size(); ++i) {
      push(connection.native(), "q", "t", static_cast<int>(i));
    }
    const auto claimed =
        pop(connection.native(), "q", {"t"}, static_cast<int>(results.size()), "w", 60s);
    REQUIRE(claimed.size() == results.size());
    for (std::size_t i = 0; i < claimed.size(); ++i) {
      in_flight.add(claimed[i].id, claimed[i].claim, queue::InFlightTasks::Clock::now() + 60s);
      Outcome outcome;
      outcome.id = claimed[i].id;
      outcome.claim = claimed[i].claim;
      outcome.result = results[i];
      recorder.add(std::move(outcome));
      ids.push_back(claimed[i].id);
    }
    return ids;
  }

  // send() and receive() of what is due, as the claim loop does them.
  Recording record_due() {
    std::vector<Outcome> batch = recorder.take_due();
    REQUIRE_FALSE(batch.empty());
    if (Recording sent = recorder.send(batch); sent.result != Recording::Result::recorded) {
      return sent;
    }
    return recorder.receive(batch);
  }
};

std::string state_of(db::Connection& connection, std::int64_t id) {
  return field(connection, id, "state");
}

} // namespace

TEST_CASE("the outcome recorder records a batch of outcomes in one statement") {
  TestDatabase database;
  db::Connection connection = database.connect();
  count_function_calls(connection, database.name());
  Recorder r(database);
  const auto ids = r.finish(connection, {"1", "2", "3"});

  const Recording recording = r.record_due();
  CHECK(recording.result == Recording::Result::recorded);
  CHECK_FALSE(recording.error.has_value());
  CHECK(r.state.succeeded == 3);
  CHECK(r.in_flight.empty());
  CHECK_FALSE(r.recorder.next_due().has_value());
  for (std::size_t i = 0; i < ids.size(); ++i) {
    CHECK(state_of(connection, ids[i]) == "succeeded");
    CHECK(field(connection, ids[i], "result") == std::to_string(i + 1));
  }
  r.recorder.disconnect();
  CHECK(eventually([&] { return function_calls(connection, "finish_many") == 1; }, 20s));
}

TEST_CASE("the outcome recorder records a refused batch one by one, and the refused outcome "
          "as a failure") {
  TestDatabase database;
  db::Connection connection = database.connect();
  Recorder r(database);
  // jsonb refuses the second result, and with it the whole batch.
  const auto ids = r.finish(connection, {"1", "{not json", "3"});

  std::vector<Outcome> batch = r.recorder.take_due();
  REQUIRE(batch.size() == 3);
  REQUIRE(r.recorder.send(batch).result == Recording::Result::recorded);
  REQUIRE(r.recorder.receive(batch).result == Recording::Result::refused);
  CHECK(r.state.succeeded == 0);
  const Recording recording = r.recorder.record_one_by_one(batch);
  CHECK(recording.result == Recording::Result::recorded);

  CHECK(state_of(connection, ids[0]) == "succeeded");
  CHECK(state_of(connection, ids[1]) == "failed");
  CHECK(field(connection, ids[1], "last_error").find("could not record the outcome") !=
        std::string::npos);
  CHECK(state_of(connection, ids[2]) == "succeeded");
  CHECK(r.state.succeeded == 2);
  CHECK(r.state.failed == 1);
  CHECK(r.in_flight.empty());
}

TEST_CASE("the outcome recorder keeps an outcome whose row another session locks, records the "
          "others, and records it once the lock is gone") {
  TestDatabase database;
  db::Connection connection = database.connect();
  db::Connection locker = database.connect();
  Recorder r(database);
  const auto ids = r.finish(connection, {"1", "2"});
  query(locker, "BEGIN");
  query(locker, "SELECT 1 FROM pgtq.live_tasks WHERE id = $1 FOR UPDATE", {std::to_string(ids[0])});

  // The batch waits for the lock until lock_timeout, then goes one by one.
  std::vector<Outcome> batch = r.recorder.take_due();
  REQUIRE(r.recorder.send(batch).result == Recording::Result::recorded);
  REQUIRE(r.recorder.receive(batch).result == Recording::Result::refused);
  CHECK(r.recorder.record_one_by_one(batch).result == Recording::Result::recorded);
  CHECK(state_of(connection, ids[0]) == "running");
  CHECK(state_of(connection, ids[1]) == "succeeded");
  CHECK(r.recorder.next_due().has_value());
  CHECK(r.in_flight.size() == 1);

  query(locker, "ROLLBACK");
  std::vector<Outcome> kept;
  REQUIRE(eventually([&] { return !(kept = r.recorder.take_due()).empty(); }, 20s));
  REQUIRE(kept.size() == 1);
  CHECK(kept[0].id == ids[0]);
  REQUIRE(r.recorder.send(kept).result == Recording::Result::recorded);
  CHECK(r.recorder.receive(kept).result == Recording::Result::recorded);
  CHECK(state_of(connection, ids[0]) == "succeeded");
  CHECK(r.state.succeeded == 2);
  CHECK(r.in_flight.empty());
}

TEST_CASE("the outcome recorder keeps the outcomes when its connection is lost, ahead of newer "
          "ones, and records them after the reconnect") {
  TestDatabase database;
  db::Connection connection = database.connect();
  Recorder r(database);
  const auto ids = r.finish(connection, {"1", "2"});
  query(connection,
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
        "WHERE datname = current_database() AND application_name = $1",
        {k_recorder_name});

  std::vector<Outcome> sent = r.recorder.take_due();
  // Another attempt finishes while the batch is on its way.
  const auto newer = r.finish(connection, {"3"});
  Recording lost = r.recorder.send(sent);
  if (lost.result == Recording::Result::recorded) {
    lost = r.recorder.receive(sent);
  }
  CHECK(lost.result == Recording::Result::failed);
  REQUIRE(lost.error.has_value());
  CHECK(lost.error->is_connection_error());
  CHECK_FALSE(r.recorder.connection_ok());
  CHECK(r.recorder.next_due().has_value());
  CHECK(r.state.succeeded == 0);
  CHECK(r.in_flight.size() == 3);
  CHECK(state_of(connection, ids[0]) == "running");

  r.connect(database);
  const std::vector<Outcome> batch = r.recorder.take_due();
  REQUIRE(batch.size() == 3);
  CHECK(batch[0].id == ids[0]);
  CHECK(batch[1].id == ids[1]);
  CHECK(batch[2].id == newer[0]);
  std::vector<Outcome> again = batch;
  REQUIRE(r.recorder.send(again).result == Recording::Result::recorded);
  CHECK(r.recorder.receive(again).result == Recording::Result::recorded);
  CHECK(r.state.succeeded == 3);
  for (const std::int64_t id : {ids[0], ids[1], newer[0]}) {
    CHECK(state_of(connection, id) == "succeeded");
  }
}

TEST_CASE("the outcome recorder counts an outcome that fencing discarded, and leaves the task "
          "to its new attempt") {
  TestDatabase database;
  db::Connection connection = database.connect();
  Recorder r(database);
  const auto ids = r.finish(connection, {"1"});
  // The lease was lost and the task claimed again by someone else.
  query(connection,
        "UPDATE pgtq.live_tasks SET locked_until = now() - interval '1 second' "
        "WHERE id = $1",
        {std::to_string(ids[0])});
  query(connection, "SELECT pgtq.tick()");
  REQUIRE(pop(connection.native(), "q", {"t"}, 1, "other", 60s).size() == 1);

  CHECK(r.record_due().result == Recording::Result::recorded);
  CHECK(r.state.discarded == 1);
  CHECK(r.state.succeeded == 0);
  CHECK(r.in_flight.empty());
  CHECK(state_of(connection, ids[0]) == "running");
}
