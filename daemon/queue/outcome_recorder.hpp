#pragma once

#include "db/connection.hpp"
#include "db/pg_error.hpp"
#include "queue/daemon_state.hpp"
#include "queue/in_flight.hpp"
#include "queue/task.hpp"

#include <chrono>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace pgtq::queue {

// What became of a batch of outcomes handed to the OutcomeRecorder.
struct Recording {
  enum class Result {
    recorded, // recorded (or, one by one: each recorded, kept for a retry, or given up)
    kept,     // kept whole, recorded again shortly (a serialization failure, a deadlock)
    refused,  // the database refused the batch (a row lock held elsewhere, an outcome it
              // cannot take): record it one by one (record_one_by_one)
    failed,   // kept whole (or what was not recorded yet): the claim loop handles the error
              // (after a connection error or in a read-only session: a reconnect)
  };
  Result result = Result::recorded;
  std::optional<db::PgError> error; // failed: what went wrong

  static Recording failed_with(const db::PgError& why) { return {Result::failed, why}; }
};

// Records the workers' outcomes (pgtq.finish_many) on a connection of its own, so that
// recording a batch and claiming the next tasks (on the claim loop's connection) run at once
// on two server backends.
//
// Outcomes that cannot be recorded yet are kept, ahead of newer ones, and recorded later:
// after a moment (a row lock, a serialization failure) or after the reconnect (connection
// lost, read-only session). Fencing makes a late record safe. A batch the database refuses
// is recorded one by one, so that one bad outcome does not hold the others back; an outcome
// the database itself refuses is recorded as a failure, with the reason.
//
// Threads: add() from worker threads; everything else from the claim loop's thread.
class OutcomeRecorder {
public:
  using Clock = std::chrono::steady_clock;

  // How long outcomes refused for a moment (a row lock, a serialization failure) wait
  // before they are recorded again.
  static constexpr Clock::duration k_retry = std::chrono::milliseconds(500);

  OutcomeRecorder(InFlightTasks& in_flight, DaemonState& state);

  // From a worker thread: a finished attempt, to be recorded (the caller wakes the loop).
  void add(Outcome&& outcome);

  void connect(const std::string& dsn,
               std::string_view application_name,
               const db::SessionSettings& settings,
               bool prepared_statements);
  void disconnect() { m_connection.reset(); }
  bool connection_ok() const { return m_connection && m_connection->is_ok(); }

  // The outcomes due now (none while kept ones wait for their retry time); the caller hands
  // them to send() at once.
  std::vector<Outcome> take_due();
  // When the outcomes waiting now may be recorded, if any wait.
  std::optional<Clock::time_point> next_due() const;
  // Kept outcomes wait no longer (the grace period is over).
  void stop_waiting();

  // Sends the batch (pgtq.finish_many) without waiting for its result: recorded (meaning
  // sent) or failed. After a send, nothing else may run on the recorder until receive().
  Recording send(std::vector<Outcome>& batch);
  // The result of send(): recorded, kept, refused or failed.
  Recording receive(std::vector<Outcome>& batch);
  // The slow path for a refused batch: runs it again, and if the database refuses it
  // again, outcome by outcome. Recorded, or failed (keeping those not recorded yet).
  Recording record_one_by_one(const std::vector<Outcome>& batch);

private:
  // Puts the outcomes back in front of the newer ones; with a retry_after, they wait that
  // long before the next try.
  void keep(std::vector<Outcome>& batch, std::optional<Clock::duration> retry_after = {});
  // Bookkeeping once outcomes are recorded; lost: the ids whose outcome fencing discarded.
  void settle(const std::vector<Outcome>& batch, const std::vector<std::int64_t>& lost);
  // One recorded attempt, in the metrics.
  void count(const Outcome& outcome, Ending ending);

  InFlightTasks& m_in_flight;                 // thread-safe
  DaemonState& m_state;                       // atomics
  std::optional<db::Connection> m_connection; // the claim loop's thread only
  mutable std::mutex m_mutex;
  std::vector<Outcome> m_outcomes; // guarded: added by workers, taken by the loop
  Clock::time_point m_not_before;  // guarded: kept outcomes wait for this
};

} // namespace pgtq::queue
