#pragma once

#include "plugin/handler_registry.hpp"

#include <pgtq/plugin.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

// The host side of plugin.h: the opaque structs and the function table handed to plugins.

// One per loaded plugin; handed to its init() and kept for its log() calls.
struct pgtq_host {
  std::string plugin_name;
  std::string label; // "name (file.so)": unique even if two plugins share a name
  pgtq::plugin::HandlerRegistry* registry = nullptr;
  pgtq::plugin::BackoffPolicy default_backoff;
  bool registering = false;         // register_handler is allowed only during init()
  std::vector<std::string> refused; // why registrations were refused during init()
};

namespace pgtq::plugin {

// What a handler may read of its task, borrowed from the caller for the length of the call
// (the plugin layer knows no claim or queue: queue/ fills this in).
struct TaskInput {
  std::int64_t id = 0;
  const std::string* name = nullptr;
  const std::string* args = nullptr; // JSON text
  std::int32_t attempt = 0;
  const std::string* parents = nullptr;    // JSON array text; nullptr: none ("[]")
  const std::string* checkpoint = nullptr; // JSON text an earlier attempt saved; nullptr: none
};

// Where a running handler's reports go as they are made (queue/ supplies it: the attempt's
// record in pgtqd, or the socket to pgtqd in a worker process). Called on the handler's thread.
class TaskReporter {
public:
  virtual ~TaskReporter() = default;
  virtual void progress(std::string json) = 0;
  virtual void checkpoint(std::string json) = 0;
};

// The limits of what a handler reports and pushes (plugin.h).
inline constexpr std::size_t k_max_progress_bytes = 64 * 1024;
inline constexpr std::size_t k_max_checkpoint_bytes = 1024 * 1024;
inline constexpr std::size_t k_max_followups = 1000;
// The follow-ups of one attempt together, as JSON text: they travel in one worker frame.
inline constexpr std::size_t k_max_followup_bytes = 16 * 1024 * 1024;

} // namespace pgtq::plugin

// One per attempt, alive only while the handler runs (plugins see it BORROWED).
struct pgtq_task {
  pgtq::plugin::TaskInput task;
  const std::atomic<bool>* stop = nullptr;
  // The attempt's timeout: from then on task_should_stop() is true (none: no timeout).
  std::optional<std::chrono::steady_clock::time_point> deadline;
  std::string result = "null";
  // What a failed attempt (PGTQ_RETRY, PGTQ_FAIL) records: the handler's own message, then
  // why pgtqd refused its calls, so that a refusal is never hidden behind a generic "handler
  // failed". Kept current by the host functions (pgtq::plugin::compose_error).
  std::string error;
  std::string invalid_result; // why the last task_set_result was refused
  std::optional<double> retry_delay_s;
  std::string handler_error; // as given to task_set_error
  std::string refused_delay; // why the last task_set_retry_delay was refused
  // Follow-up tasks (task_push_followup), JSON objects, for a done outcome.
  std::vector<std::string> followups;
  std::size_t followup_bytes = 0;
  // The last progress and checkpoint reported (also handed to reporter as they come).
  std::optional<std::string> progress;
  std::optional<std::string> checkpoint;
  pgtq::plugin::TaskReporter* reporter = nullptr; // nullptr: reports are only kept here
};

namespace pgtq::plugin {

// The table given to every plugin's init(); static, so valid for the process lifetime.
const pgtq_host_api& host_api();

// Rebuilds task.error from the handler's message and the refusals of its calls.
void compose_error(pgtq_task& task);

// The longest retry or snooze delay a plugin may ask for: 100 years, pgtq's cap on every
// computed delay (a longer one would overflow a timestamp); longer requests are cut to it.
inline constexpr double k_max_delay_s = 3155760000.0;

// Validates JSON text the way pgtq stores it (PostgreSQL jsonb): returns an empty string
// when it is acceptable, else the reason.
std::string json_problem(const char* json, std::size_t len);

// Validates a follow-up task (task_push_followup): a JSON object with a string "task", an
// optional string "queue", and no key push_many does not know. "" when acceptable, else why.
std::string followup_problem(const char* json, std::size_t len);

} // namespace pgtq::plugin
