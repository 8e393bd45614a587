#include "queue/outcome_recorder.hpp"

#include "db/queries.hpp"
#include "queue/outcome_batch.hpp"
#include "queue/outcome_log.hpp"
#include "queue/queue_logger.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace pgtq::queue {

namespace {

// Marks a failure outcome made because the real one could not be recorded (result unused).
constexpr const char* k_unrecordable = "\"unrecordable\"";

std::vector<std::int64_t> ids_of(const db::Result& rows) {
  std::vector<std::int64_t> ids;
  for (int row = 0; row < rows.rows(); ++row) {
    ids.push_back(rows.int64(row, 0));
  }
  return ids;
}

// Sends (or runs) pgtq.finish_many for the batch; the arrays live until the statement is sent.
template <class Call> auto with_outcome_params(const std::vector<Outcome>& batch, Call&& call) {
  const OutcomeArrays arrays = encode_outcomes(batch);
  return call({arrays.task_ids,
               arrays.task_claims,
               arrays.statuses,
               arrays.results,
               arrays.errors,
               arrays.retry_in,
               arrays.progress,
               arrays.checkpoints,
               arrays.followups});
}

// The session cannot go on: the outcomes wait for the reconnect.
bool ends_session(const db::PgError& error) {
  return error.is_connection_error() || error.is_read_only();
}

} // namespace

OutcomeRecorder::OutcomeRecorder(InFlightTasks& in_flight, DaemonState& state)
    : m_in_flight(in_flight), m_state(state) {}

void OutcomeRecorder::add(Outcome&& outcome) {
  if (const auto attempt = m_in_flight.find(outcome.id, outcome.claim)) {
    attempt->finished = true; // nothing left to stop while its outcome waits
    // What the handler reported reaches the database with its outcome, also when the outcome
    // is pgtqd's own (a crashed worker process, a timeout): the next attempt resumes from it.
    const TaskReports::Latest latest = attempt->reports->latest();
    if (!outcome.progress) {
      outcome.progress = latest.progress;
    }
    if (!outcome.checkpoint) {
      outcome.checkpoint = latest.checkpoint;
    }
  }
  const std::lock_guard lock(m_mutex);
  m_outcomes.push_back(std::move(outcome));
}

void OutcomeRecorder::connect(const std::string& dsn,
                              std::string_view application_name,
                              const db::SessionSettings& settings,
                              bool prepared_statements) {
  m_connection.emplace(dsn, application_name, settings);
  m_connection->use_prepared_statements(prepared_statements);
}

std::vector<Outcome> OutcomeRecorder::take_due() {
  std::vector<Outcome> batch;
  const std::lock_guard lock(m_mutex);
  if (Clock::now() >= m_not_before) {
    batch.swap(m_outcomes);
  }
  return batch;
}

std::optional<OutcomeRecorder::Clock::time_point> OutcomeRecorder::next_due() const {
  const std::lock_guard lock(m_mutex);
  if (m_outcomes.empty()) {
    return std::nullopt;
  }
  return m_not_before;
}

void OutcomeRecorder::stop_waiting() {
  const std::lock_guard lock(m_mutex);
  m_not_before = Clock::now();
}

void OutcomeRecorder::keep(std::vector<Outcome>& batch,
                           std::optional<Clock::duration> retry_after) {
  // Recorded after the reconnect, ahead of newer ones; fencing makes a late record safe.
  const std::lock_guard lock(m_mutex);
  m_outcomes.insert(m_outcomes.begin(),
                    std::make_move_iterator(batch.begin()),
                    std::make_move_iterator(batch.end()));
  if (retry_after) {
    m_not_before = std::max(m_not_before, Clock::now() + *retry_after);
  }
  batch.clear();
}

Recording OutcomeRecorder::send(std::vector<Outcome>& batch) {
  try {
    with_outcome_params(batch, [&](std::initializer_list<db::Param> params) {
      m_connection->send(db::queries::k_finish_many, params);
    });
  } catch (const db::PgError& error) {
    keep(batch);
    return Recording::failed_with(error);
  }
  return {};
}

Recording OutcomeRecorder::receive(std::vector<Outcome>& batch) {
  std::optional<db::PgError> refusal;
  try {
    settle(batch, ids_of(m_connection->receive(db::queries::k_finish_many)));
  } catch (const db::PgError& error) {
    refusal = error;
  }
  if (!refusal) {
    return {};
  }
  const db::PgError& error = *refusal;
  if (ends_session(error)) {
    keep(batch);
    return Recording::failed_with(error);
  }
  if (error.sqlstate() == "40001" || error.sqlstate() == "40P01") {
    // Nothing wrong with the outcomes: the same batch goes through in a moment.
    SPDLOG_LOGGER_DEBUG(
        logger(), "recording {} outcome(s): {}; again shortly", batch.size(), error.what());
    keep(batch, k_retry / 10);
    return {Recording::Result::kept, std::nullopt};
  }
  // A row lock held elsewhere (lock_timeout), or an outcome the database refuses: one by
  // one, so that the others are not held back by it.
  if (!error.is_transient()) {
    logger()->warn("recording {} outcome(s) failed ({}); recording them one by one",
                   batch.size(),
                   error.what());
  }
  return {Recording::Result::refused, std::nullopt};
}

Recording OutcomeRecorder::record_one_by_one(const std::vector<Outcome>& batch) {
  std::optional<db::PgError> refusal;
  db::Result discarded(nullptr);
  try {
    discarded = with_outcome_params(batch, [&](std::initializer_list<db::Param> params) {
      return m_connection->run(db::queries::k_finish_many, params);
    });
  } catch (const db::PgError& error) {
    refusal = error;
  }
  if (!refusal) {
    settle(batch, ids_of(discarded));
    return {};
  }
  const db::PgError& error = *refusal;
  if (ends_session(error)) {
    std::vector<Outcome> again = batch;
    keep(again);
    return Recording::failed_with(error);
  }
  if (batch.size() > 1) {
    // One bad outcome must not hold the others back: record them one by one. After a
    // connection error only the ones not recorded yet are kept (the failing one keeps
    // itself): putting back recorded ones would count them twice and send an id twice.
    for (std::size_t i = 0; i < batch.size(); ++i) {
      Recording one = record_one_by_one({batch[i]});
      if (one.result == Recording::Result::failed) {
        std::vector<Outcome> rest(batch.begin() + static_cast<std::ptrdiff_t>(i) + 1, batch.end());
        keep(rest);
        return one;
      }
    }
    return {};
  }
  if (error.is_transient()) {
    // Locked by another session (or a serialization failure): not the outcome's fault.
    // Kept, and recorded again later; the lease keeper renews its lease meanwhile.
    logger()->info("task {}: outcome not recorded yet ({}); trying again shortly",
                   batch.front().id,
                   error.what());
    std::vector<Outcome> again = batch;
    keep(again, k_retry);
    return {};
  }
  const Outcome& refused = batch.front();
  if (refused.status == OutcomeStatus::fail && refused.result == k_unrecordable) {
    logger()->error("task {}: cannot record even a failure ({}); its lease will expire and "
                    "it will be retried",
                    refused.id,
                    error.what());
    m_in_flight.erase(refused.id, refused.claim);
    return {};
  }
  if (refused.progress || refused.checkpoint) {
    // What the handler reported may be what the database refuses (over its limits as jsonb
    // measures them): the outcome goes without it, as it is.
    logger()->warn("task {}: its progress or checkpoint was refused ({}); recording its "
                   "outcome without them",
                   refused.id,
                   error.what());
    Outcome bare = refused;
    bare.progress.reset();
    bare.checkpoint.reset();
    return record_one_by_one({bare});
  }
  // The database itself refuses this outcome (say, a result jsonb cannot hold, or a follow-up
  // task it cannot push): record the attempt as failed, with the reason, instead of retrying
  // it forever.
  Outcome failure = refused;
  failure.status = OutcomeStatus::fail;
  failure.result = k_unrecordable;
  failure.followups.clear(); // a refused follow-up is the likely reason
  failure.progress.reset();
  failure.checkpoint.reset();
  failure.error = std::string("pgtqd could not record the outcome: ") + error.what();
  logger()->error("task {}: {}", failure.id, failure.error);
  return record_one_by_one({failure});
}

void OutcomeRecorder::count(const Outcome& outcome, Ending ending) {
  m_state.metrics.record(
      outcome.name, ending, outcome.duration_s, outcome.timed_out, outcome.crashed);
}

void OutcomeRecorder::settle(const std::vector<Outcome>& batch,
                             const std::vector<std::int64_t>& lost) {
  for (const Outcome& outcome : batch) {
    const auto attempt = m_in_flight.find(outcome.id, outcome.claim);
    const bool cancelled = attempt && attempt->cancelled.load();
    // Only this attempt: a task retried at once may already be claimed again, under a newer
    // claim, by a claim that ran beside the recording.
    m_in_flight.erase(outcome.id, outcome.claim);
    if (std::find(lost.begin(), lost.end(), outcome.id) != lost.end()) {
      ++m_state.discarded;
      count(outcome, Ending::discarded);
      logger()->warn("task {}: outcome \"{}\" discarded: its lease was lost and the task was "
                     "handed to another attempt",
                     outcome.id,
                     to_string(outcome.status));
      continue;
    }
    if (outcome.status == OutcomeStatus::done) {
      ++m_state.succeeded;
    } else if (outcome.status != OutcomeStatus::snooze && !cancelled) {
      ++m_state.failed;
    }
    const Ending ending = ending_of(outcome, cancelled);
    count(outcome, ending);
    log_recorded(outcome, ending, cancelled);
  }
}

} // namespace pgtq::queue
