#pragma once

#include "db/result.hpp"
#include "plugin/plugin_set.hpp"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace pgtq::queue {

// A task handed to this daemon by pgtq.claim(). (id, claim) is the fencing token (claim: a random
// 64-bit number per claim): every later call about this attempt quotes both.
struct ClaimedTask {
  std::int64_t id = 0;
  std::int64_t claim = 0;
  std::string name;
  std::string args; // JSON text
  std::int32_t attempt = 0;
  std::int32_t max_attempts = 0;
  // Seconds one attempt may run, as given at push (pgtq.push's timeout); nothing when the push
  // gave none, and the task name's or the daemon's applies (attempt_timeout()).
  std::optional<double> timeout_s;
  // The tasks it depends on, as pgtq.task_parents gives them (JSON text); nothing when it was
  // pushed without depends_on.
  std::optional<std::string> parents;
  // What an earlier attempt saved for this one (JSON text); nothing when none did.
  std::optional<std::string> checkpoint;
  // The plugins it was claimed under, which run it (the claim loop sets it at dispatch):
  // after a reload, new code serves new claims while this task keeps its own.
  std::shared_ptr<const plugin::PluginSet> plugins;
};

enum class OutcomeStatus { done, retry, fail, snooze };

// What became of one attempt; recorded in batches by pgtq.finish_many().
struct Outcome {
  std::int64_t id = 0;
  std::int64_t claim = 0;
  OutcomeStatus status = OutcomeStatus::done;
  std::string result = "null"; // JSON text, for done
  std::string error;           // for retry and fail
  double retry_in_s = 0;       // for retry and snooze
  // What the handler reported last (JSON text), written with the outcome; nothing: unchanged.
  std::optional<std::string> progress;
  std::optional<std::string> checkpoint;
  // Follow-up tasks (JSON objects, push_many elements with an optional "queue"), pushed with
  // a done outcome only.
  std::vector<std::string> followups;
  // About the attempt, for the log line once it is recorded.
  std::string name;
  std::int32_t attempt = 0;
  std::int32_t max_attempts = 0;
  double duration_s = 0; // how long the handler ran
  // How the attempt ended, for the metrics: its time ran out (the handler stopped in time, or
  // its worker process was killed), or its worker process died under it.
  bool timed_out = false;
  bool crashed = false;
};

const char* to_string(OutcomeStatus status);

// Row `row` of pgtq.claim()'s result (db/queries.hpp: id, claim, task, args, attempt,
// max_attempts, timeout in seconds or NULL, parents or NULL, checkpoint or NULL).
ClaimedTask claimed_task(const db::Result& rows, int row);

} // namespace pgtq::queue
