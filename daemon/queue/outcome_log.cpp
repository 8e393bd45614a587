#include "queue/outcome_log.hpp"

#include "queue/backoff.hpp"
#include "queue/queue_logger.hpp"

#include <spdlog/spdlog.h>

namespace pgtq::queue {

Ending ending_of(const Outcome& outcome, bool cancelled) {
  // What pgtq.finish_many makes of it: a done outcome succeeds even when a cancellation was
  // asked for meanwhile; any other outcome of a cancelled task ends it cancelled; a retry
  // with no attempts left ends it failed.
  if (outcome.status == OutcomeStatus::done) {
    return Ending::succeeded; // even when a cancellation was asked for meanwhile
  }
  if (cancelled) {
    return Ending::cancelled;
  }
  if (outcome.status == OutcomeStatus::snooze) {
    return Ending::snoozed;
  }
  return outcome.status == OutcomeStatus::fail || outcome.attempt >= outcome.max_attempts
             ? Ending::failed
             : Ending::retried;
}

void log_recorded(const Outcome& outcome, Ending ending, bool cancelled) {
  const auto& log = logger();
  switch (ending) {
  case Ending::succeeded:
    if (cancelled) {
      log->info("task {} ({}) succeeded: its handler returned success although its "
                "cancellation was requested",
                outcome.id,
                outcome.name);
    } else {
      SPDLOG_LOGGER_DEBUG(log,
                          "task {} ({}) attempt {}/{} succeeded in {:.3f} s",
                          outcome.id,
                          outcome.name,
                          outcome.attempt,
                          outcome.max_attempts,
                          outcome.duration_s);
    }
    return;
  case Ending::snoozed:
    SPDLOG_LOGGER_DEBUG(
        log, "task {} ({}) snoozed for {:.3f} s", outcome.id, outcome.name, outcome.retry_in_s);
    return;
  case Ending::cancelled:
    if (outcome.status == OutcomeStatus::snooze) {
      log->info("task {} ({}) cancelled", outcome.id, outcome.name);
    } else {
      log->info("task {} ({}) cancelled during attempt {}/{} after {:.3f} s",
                outcome.id,
                outcome.name,
                outcome.attempt,
                outcome.max_attempts,
                outcome.duration_s);
    }
    return;
  case Ending::failed:
    if (outcome.status == OutcomeStatus::fail) {
      log->warn("task {} ({}) failed permanently at attempt {}/{}: {}",
                outcome.id,
                outcome.name,
                outcome.attempt,
                outcome.max_attempts,
                outcome.error);
    } else {
      log->warn("task {} ({}) failed: attempt {}/{} was its last: {}",
                outcome.id,
                outcome.name,
                outcome.attempt,
                outcome.max_attempts,
                outcome.error);
    }
    return;
  case Ending::retried:
    log->warn("task {} ({}) attempt {}/{} failed, retrying in {:.1f} s: {}",
              outcome.id,
              outcome.name,
              outcome.attempt,
              outcome.max_attempts,
              storable_delay(outcome.retry_in_s),
              outcome.error);
    return;
  case Ending::discarded:
    return; // settle() logs it: no outcome was recorded
  }
}

} // namespace pgtq::queue
