// Producer: recording what the workers did (pgtq.finish_many on the completer connection).
#include "queue/producer.hpp"

#include "db/pg_error.hpp"
#include "db/queries.hpp"
#include "queue/outcome_batch.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>

namespace pgtq::queue {
namespace {

// Marks a failure outcome made because the real one could not be recorded (result unused).
constexpr const char* k_unrecordable = "\"unrecordable\"";

std::shared_ptr<spdlog::logger> logger() {
  auto found = spdlog::get("queue");
  return found ? found : spdlog::default_logger();
}

std::vector<std::int64_t> ids_of(const db::Result& rows) {
  std::vector<std::int64_t> ids;
  for (int row = 0; row < rows.rows(); ++row) {
    ids.push_back(rows.int64(row, 0));
  }
  return ids;
}

// Sends (or runs) pgtq.finish_many for the batch; the arrays live until the statement is sent.
template <class Call>
auto with_outcome_params(const std::vector<Outcome>& batch, Call&& call) {
  const OutcomeArrays arrays = encode_outcomes(batch);
  return call({arrays.task_ids, arrays.task_claims, arrays.statuses, arrays.results,
               arrays.errors, arrays.retry_in});
}

} // namespace

bool Producer::flush_outcomes() {
  std::vector<Outcome> batch;
  {
    const std::lock_guard lock(m_outcomes_mutex);
    if (Clock::now() >= m_outcomes_not_before) {
      batch.swap(m_outcomes);
    }
  }
  if (batch.empty()) {
    return false;
  }
  // The workers of these outcomes are free again: claim their next tasks on the main
  // connection while the completer records the outcomes. The two statements touch disjoint
  // rows (running ones, queued ones), run on two backends at once, and their commits (one
  // WAL flush each) overlap instead of queueing behind each other.
  const int free_slots =
      slots() - static_cast<int>(m_in_flight.size()) + static_cast<int>(batch.size());
  const int wanted = wants_claim() ? std::max(free_slots, 0) : 0;
  try {
    with_outcome_params(batch, [&](std::initializer_list<db::Param> params) {
      m_completer->send(db::queries::k_finish_many, params);
    });
  } catch (...) {
    keep_for_later(batch);
    throw;
  }
  std::optional<db::Result> claimed;
  std::exception_ptr claim_failure;
  const auto claimed_at = Clock::now();
  if (wanted > 0) {
    try {
      claimed.emplace(run_claim(wanted));
    } catch (...) {
      claim_failure = std::current_exception(); // after the outcomes are dealt with
    }
  }
  // Claimed tasks are this daemon's whatever becomes of the outcomes: they run either way.
  const auto run_claimed = [&] {
    if (claimed) {
      dispatch(*claimed, wanted, claimed_at);
    }
  };

  bool one_by_one = false;
  try {
    settle(batch, ids_of(m_completer->receive(db::queries::k_finish_many)));
  } catch (const db::PgError& error) {
    if (error.is_connection_error() || error.is_read_only()) {
      keep_for_later(batch);
      run_claimed();
      throw;
    }
    if (error.sqlstate() == "40001" || error.sqlstate() == "40P01") {
      // Nothing wrong with the outcomes: the same batch goes through in a moment.
      SPDLOG_LOGGER_DEBUG(logger(), "recording {} outcome(s): {}; again shortly", batch.size(),
                          error.what());
      keep_for_later(batch, k_outcome_retry / 10);
    } else {
      // A row lock held elsewhere (lock_timeout), or an outcome the database refuses: one
      // by one, so that the others are not held back by it.
      one_by_one = true;
      if (!error.is_transient()) {
        logger()->warn("recording {} outcome(s) failed ({}); recording them one by one",
                       batch.size(), error.what());
      }
    }
  }
  run_claimed();
  if (one_by_one) {
    record(batch); // on a connection error it keeps what it did not record
  }
  if (claim_failure) {
    std::rethrow_exception(claim_failure);
  }
  return claimed.has_value();
}

void Producer::keep_for_later(std::vector<Outcome>& batch,
                              std::optional<Clock::duration> retry_after) {
  // Recorded after the reconnect, ahead of newer ones; fencing makes a late record safe.
  const std::lock_guard lock(m_outcomes_mutex);
  m_outcomes.insert(m_outcomes.begin(), std::make_move_iterator(batch.begin()),
                    std::make_move_iterator(batch.end()));
  if (retry_after) {
    m_outcomes_not_before = std::max(m_outcomes_not_before, Clock::now() + *retry_after);
  }
  batch.clear();
}

void Producer::record(const std::vector<Outcome>& batch) {
  db::Result discarded(nullptr);
  try {
    discarded = with_outcome_params(batch, [&](std::initializer_list<db::Param> params) {
      return m_completer->run(db::queries::k_finish_many, params);
    });
  } catch (const db::PgError& error) {
    if (error.is_connection_error() || error.is_read_only()) {
      std::vector<Outcome> again = batch;
      keep_for_later(again);
      throw;
    }
    if (batch.size() > 1) {
      // One bad outcome must not hold the others back: record them one by one. After a
      // connection error only the ones not recorded yet are kept (the failing one keeps
      // itself): putting back recorded ones would count them twice and send an id twice.
      for (std::size_t i = 0; i < batch.size(); ++i) {
        try {
          record({batch[i]});
        } catch (...) {
          std::vector<Outcome> rest(batch.begin() + static_cast<std::ptrdiff_t>(i) + 1,
                                    batch.end());
          keep_for_later(rest);
          throw;
        }
      }
      return;
    }
    if (error.is_transient()) {
      // Locked by another session (or a serialization failure): not the outcome's fault.
      // Kept, and recorded again later; the lease keeper renews its lease meanwhile.
      logger()->info("task {}: outcome not recorded yet ({}); trying again shortly",
                     batch.front().id, error.what());
      std::vector<Outcome> again = batch;
      keep_for_later(again, k_outcome_retry);
      return;
    }
    const Outcome& refused = batch.front();
    if (refused.status == OutcomeStatus::fail && refused.result == k_unrecordable) {
      logger()->error("task {}: cannot record even a failure ({}); its lease will expire and "
                      "it will be retried", refused.id, error.what());
      m_in_flight.erase(refused.id, refused.claim);
      return;
    }
    // The database itself refuses this outcome (say, a result jsonb cannot hold): record
    // the attempt as failed, with the reason, instead of retrying it forever.
    Outcome failure = refused;
    failure.status = OutcomeStatus::fail;
    failure.result = k_unrecordable;
    failure.error = std::string("pgtqd could not record the outcome: ") + error.what();
    logger()->error("task {}: {}", failure.id, failure.error);
    record({failure});
    return;
  }
  settle(batch, ids_of(discarded));
}

void Producer::settle(const std::vector<Outcome>& batch, const std::vector<std::int64_t>& lost) {
  for (const Outcome& outcome : batch) {
    const auto attempt = m_in_flight.find(outcome.id);
    const bool cancelled =
        attempt && attempt->claim == outcome.claim && attempt->cancelled.load();
    // Only this attempt: a task retried at once may already be claimed again, under a newer
    // claim, by a claim that ran beside the recording.
    m_in_flight.erase(outcome.id, outcome.claim);
    if (std::find(lost.begin(), lost.end(), outcome.id) != lost.end()) {
      ++m_state.discarded;
      logger()->warn("task {}: outcome \"{}\" discarded: its lease was lost and the task was "
                     "handed to another attempt",
                     outcome.id, to_string(outcome.status));
      continue;
    }
    if (outcome.status == OutcomeStatus::done) {
      ++m_state.succeeded;
    } else if (outcome.status != OutcomeStatus::snooze && !cancelled) {
      ++m_state.failed;
    }
    log_recorded(outcome, cancelled);
  }
}

void Producer::log_recorded(const Outcome& outcome, bool cancelled) const {
  // What pgtq.finish_many made of it: a done outcome succeeds even when a cancellation was
  // asked for meanwhile; any other outcome of a cancelled task ends it cancelled; a retry
  // with no attempts left ends it failed.
  const auto& log = logger();
  switch (outcome.status) {
  case OutcomeStatus::done:
    if (cancelled) {
      log->info("task {} ({}) succeeded: its handler returned success although its "
                "cancellation was requested", outcome.id, outcome.name);
    } else {
      SPDLOG_LOGGER_DEBUG(log, "task {} ({}) attempt {}/{} succeeded in {:.3f} s", outcome.id,
                          outcome.name, outcome.attempt, outcome.max_attempts,
                          outcome.duration_s);
    }
    return;
  case OutcomeStatus::snooze:
    if (cancelled) {
      log->info("task {} ({}) cancelled", outcome.id, outcome.name);
    } else {
      SPDLOG_LOGGER_DEBUG(log, "task {} ({}) snoozed for {:.3f} s", outcome.id, outcome.name,
                          outcome.retry_in_s);
    }
    return;
  case OutcomeStatus::retry:
  case OutcomeStatus::fail:
    break;
  }
  if (cancelled) {
    log->info("task {} ({}) cancelled during attempt {}/{} after {:.3f} s", outcome.id,
              outcome.name, outcome.attempt, outcome.max_attempts, outcome.duration_s);
  } else if (outcome.status == OutcomeStatus::fail) {
    log->warn("task {} ({}) failed permanently at attempt {}/{}: {}", outcome.id, outcome.name,
              outcome.attempt, outcome.max_attempts, outcome.error);
  } else if (outcome.attempt >= outcome.max_attempts) {
    log->warn("task {} ({}) failed: attempt {}/{} was its last: {}", outcome.id, outcome.name,
              outcome.attempt, outcome.max_attempts, outcome.error);
  } else {
    log->warn("task {} ({}) attempt {}/{} failed, retrying in {:.1f} s: {}", outcome.id,
              outcome.name, outcome.attempt, outcome.max_attempts,
              storable_delay(outcome.retry_in_s), outcome.error);
  }
}

} // namespace pgtq::queue
