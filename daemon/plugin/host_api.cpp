#include "plugin/host_api.hpp"

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cmath>
#include <string_view>

namespace pgtq::plugin {
namespace {

std::shared_ptr<spdlog::logger> plugin_logger() {
  static const std::shared_ptr<spdlog::logger> logger = [] {
    auto found = spdlog::get("plugin");
    return found ? found : spdlog::default_logger();
  }();
  return logger;
}

void host_log(pgtq_host* host, int level, const char* msg, size_t len) {
  if (host == nullptr || msg == nullptr) {
    return;
  }
  const std::string_view text(msg, len);
  const auto spd_level = level <= PGTQ_LOG_DEBUG  ? spdlog::level::debug
                         : level == PGTQ_LOG_INFO ? spdlog::level::info
                         : level == PGTQ_LOG_WARN ? spdlog::level::warn
                                                  : spdlog::level::err;
  plugin_logger()->log(spd_level, "[{}] {}", host->plugin_name, text);
}

int host_register_handler(pgtq_host* host, const pgtq_handler* handler) {
  if (host == nullptr || handler == nullptr) {
    return -1;
  }
  if (!host->registering) {
    plugin_logger()->error("plugin \"{}\": register_handler called outside init(); refused",
                           host->plugin_name);
    return -1;
  }
  const std::string problem = host->registry->add(host->label, *handler, host->default_backoff);
  if (!problem.empty()) {
    plugin_logger()->error("plugin \"{}\": handler refused: {}", host->plugin_name, problem);
    host->refused.push_back(problem);
    return -1;
  }
  plugin_logger()->info("plugin \"{}\" registered task \"{}\"", host->plugin_name, handler->name);
  return 0;
}

int host_register_schedule(pgtq_host* host, const pgtq_schedule* schedule) {
  if (host == nullptr || schedule == nullptr) {
    return -1;
  }
  if (!host->registering) {
    plugin_logger()->error("plugin \"{}\": register_schedule called outside init(); refused",
                           host->plugin_name);
    return -1;
  }
  // A refused schedule is the plugin's to handle: its handlers still load.
  const std::string problem = host->registry->add_schedule(host->label, *schedule);
  if (!problem.empty()) {
    plugin_logger()->error("plugin \"{}\": schedule refused: {}", host->plugin_name, problem);
    return -1;
  }
  return 0;
}

void host_task_args(const pgtq_task* task, const char** json, size_t* len) {
  if (json != nullptr) {
    *json = task->task.args->c_str();
  }
  if (len != nullptr) {
    *len = task->task.args->size();
  }
}

const char* host_task_name(const pgtq_task* task) {
  return task->task.name->c_str();
}
int64_t host_task_id(const pgtq_task* task) {
  return task->task.id;
}
int32_t host_task_attempt(const pgtq_task* task) {
  return task->task.attempt;
}

int host_task_set_result(pgtq_task* task, const char* json, size_t len) {
  std::string problem = json == nullptr ? "NULL pointer" : json_problem(json, len);
  if (!problem.empty()) {
    task->invalid_result = std::move(problem);
    compose_error(*task);
    return -1;
  }
  task->invalid_result.clear();
  task->result.assign(json, len);
  compose_error(*task);
  return 0;
}

void host_task_set_error(pgtq_task* task, const char* msg, size_t len) {
  if (msg != nullptr) {
    task->handler_error.assign(msg, len);
    compose_error(*task);
  }
}

void host_task_set_retry_delay(pgtq_task* task, double seconds) {
  if (!std::isfinite(seconds)) {
    // The backoff applies instead; say so in the error and the log, since a snooze keeps
    // no error.
    task->retry_delay_s.reset();
    task->refused_delay = std::string(std::isnan(seconds) ? "NaN" : "infinity") +
                          " is not a number of seconds; the backoff delay applies";
    plugin_logger()->warn("task {} ({}): task_set_retry_delay refused: {}",
                          task->task.id,
                          *task->task.name,
                          task->refused_delay);
  } else {
    task->retry_delay_s = std::clamp(seconds, 0.0, k_max_delay_s);
    task->refused_delay.clear();
  }
  compose_error(*task);
}

void host_task_parents(const pgtq_task* task, const char** json, size_t* len) {
  static const std::string none = "[]";
  const std::string& parents = task->task.parents != nullptr ? *task->task.parents : none;
  if (json != nullptr) {
    *json = parents.c_str();
  }
  if (len != nullptr) {
    *len = parents.size();
  }
}

void host_task_checkpoint(const pgtq_task* task, const char** json, size_t* len) {
  const std::string* checkpoint = task->task.checkpoint;
  if (json != nullptr) {
    *json = checkpoint != nullptr ? checkpoint->c_str() : nullptr;
  }
  if (len != nullptr) {
    *len = checkpoint != nullptr ? checkpoint->size() : 0;
  }
}

// How deep arrays and objects nest in valid JSON text (strings skipped), as pgtq counts it:
// [[1]] is 2. Stops counting past limit.
std::size_t nesting_depth(std::string_view text, std::size_t limit) {
  std::size_t depth = 0;
  std::size_t deepest = 0;
  bool in_string = false;
  for (std::size_t at = 0; at < text.size() && deepest <= limit; ++at) {
    const char c = text[at];
    if (in_string) {
      if (c == '\\') {
        ++at;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      deepest = std::max(deepest, ++depth);
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return deepest;
}

// Why a report (progress or checkpoint) is refused, or "" when it is acceptable: the limits
// the database checks again (sql/schema/21_progress.sql), so that what pgtqd takes it writes.
std::string report_problem(const char* json, std::size_t len, std::size_t max_bytes) {
  if (json == nullptr) {
    return "NULL pointer";
  }
  if (len > max_bytes) {
    return std::to_string(len) + " bytes, the limit is " + std::to_string(max_bytes);
  }
  if (std::string problem = json_problem(json, len); !problem.empty()) {
    return problem;
  }
  if (nesting_depth(std::string_view(json, len), 100) > 100) {
    return "arrays and objects nest more than 100 deep";
  }
  return {};
}

void warn_refused(const pgtq_task* task, const char* call, const std::string& why) {
  plugin_logger()->warn("task {} ({}): {} refused: {}", task->task.id, *task->task.name, call, why);
}

int host_task_set_progress(pgtq_task* task, const char* json, size_t len) {
  if (const std::string problem = report_problem(json, len, k_max_progress_bytes);
      !problem.empty()) {
    warn_refused(task, "task_set_progress", problem);
    return -1;
  }
  // Only when it changed: a handler reporting in a tight loop the same value costs a compare.
  if (!task->progress || std::string_view(*task->progress) != std::string_view(json, len)) {
    task->progress.emplace(json, len);
    if (task->reporter != nullptr) {
      task->reporter->progress(*task->progress);
    }
  }
  return 0;
}

int host_task_set_checkpoint(pgtq_task* task, const char* json, size_t len) {
  if (const std::string problem = report_problem(json, len, k_max_checkpoint_bytes);
      !problem.empty()) {
    warn_refused(task, "task_set_checkpoint", problem);
    return -1;
  }
  task->checkpoint.emplace(json, len);
  if (task->reporter != nullptr) {
    task->reporter->checkpoint(*task->checkpoint);
  }
  return 0;
}

int host_task_push_followup(pgtq_task* task, const char* json, size_t len) {
  std::string problem = json == nullptr ? "NULL pointer" : followup_problem(json, len);
  if (problem.empty() && task->followups.size() >= k_max_followups) {
    problem = "more than " + std::to_string(k_max_followups) + " follow-ups in one attempt";
  }
  if (problem.empty() && task->followup_bytes + len > k_max_followup_bytes) {
    problem = "the follow-ups of one attempt would pass " +
              std::to_string(k_max_followup_bytes >> 20) + " MiB";
  }
  if (!problem.empty()) {
    warn_refused(task, "task_push_followup", problem);
    return -1;
  }
  task->followups.emplace_back(json, len);
  task->followup_bytes += len;
  return 0;
}

int host_task_should_stop(const pgtq_task* task) {
  if (task->stop != nullptr && task->stop->load(std::memory_order_relaxed)) {
    return 1;
  }
  return task->deadline && std::chrono::steady_clock::now() >= *task->deadline ? 1 : 0;
}

// What jsonb refuses that JSON allows, both spelt as \u escapes inside strings: \u0000
// (text cannot hold NUL) and a UTF-16 surrogate that is not half of a pair.
std::string escape_problem(std::string_view text) {
  auto hex4 = [&](std::size_t at) {
    unsigned value = 0;
    for (std::size_t i = at; i < at + 4 && i < text.size(); ++i) {
      const char c = text[i];
      value = value * 16 + static_cast<unsigned>(c <= '9' ? c - '0' : (c | 0x20) - 'a' + 10);
    }
    return value;
  };
  bool in_string = false;
  bool after_high = false; // the previous escape was a high surrogate
  for (std::size_t at = 0; at < text.size(); ++at) {
    const char c = text[at];
    if (!in_string) {
      in_string = c == '"';
      continue;
    }
    if (c == '"') {
      in_string = false;
    } else if (c == '\\') {
      const char escaped = at + 1 < text.size() ? text[at + 1] : '\0';
      if (escaped == 'u' && at + 5 < text.size()) {
        const unsigned unit = hex4(at + 2);
        const std::string spelt(text.substr(at, 6));
        if (unit == 0) {
          return "contains \\u0000, which PostgreSQL cannot store in jsonb";
        }
        const bool high = unit >= 0xD800 && unit <= 0xDBFF;
        const bool low = unit >= 0xDC00 && unit <= 0xDFFF;
        if (low && !after_high) {
          return "contains a lone UTF-16 surrogate (" + spelt +
                 "), which PostgreSQL cannot store in jsonb";
        }
        if (after_high && !low) {
          break;
        }
        after_high = high;
        at += 5;
        continue;
      }
      ++at; // \" \\ \n ...: one character
    }
    if (after_high) {
      break;
    }
  }
  if (after_high) {
    return "contains a lone UTF-16 surrogate (a high one not followed by a low one), which "
           "PostgreSQL cannot store in jsonb";
  }
  return {};
}

} // namespace

void compose_error(pgtq_task& task) {
  task.error = task.handler_error;
  auto add = [&](const std::string& call, const std::string& why) {
    if (!why.empty()) {
      task.error += (task.error.empty() ? "" : "; ") + ("pgtqd refused " + call + ": " + why);
    }
  };
  add("task_set_result", task.invalid_result);
  add("task_set_retry_delay", task.refused_delay);
}

std::string followup_problem(const char* json, std::size_t len) {
  if (std::string problem = json_problem(json, len); !problem.empty()) {
    return problem;
  }
  // Numbers as numbers, so that {"task": 5} is no string. A number too large for a double
  // (valid JSON all the same) leaves the types to the database, which checks them too.
  rapidjson::Document document;
  document.Parse(json, len);
  if (document.HasParseError()) {
    rapidjson::Document shape;
    shape.Parse<rapidjson::kParseNumbersAsStringsFlag>(json, len);
    return shape.IsObject() ? "" : "not a JSON object";
  }
  if (!document.IsObject()) {
    return "not a JSON object";
  }
  static constexpr std::string_view k_keys[] = {"queue",
                                                "task",
                                                "args",
                                                "priority",
                                                "max_attempts",
                                                "run_at",
                                                "delay",
                                                "timeout",
                                                "fairness_key",
                                                "tags",
                                                "metadata",
                                                "depends_on",
                                                "on_parent_failure"};
  for (const auto& member : document.GetObject()) {
    const std::string_view key(member.name.GetString(), member.name.GetStringLength());
    if (std::find(std::begin(k_keys), std::end(k_keys), key) == std::end(k_keys)) {
      return "unknown key \"" + std::string(key) +
             "\" (known: queue, task, args, priority, max_attempts, run_at, delay, timeout, "
             "fairness_key, tags, metadata, depends_on, on_parent_failure)";
    }
  }
  const auto task = document.FindMember("task");
  if (task == document.MemberEnd() || !task->value.IsString()) {
    return "\"task\" must be a JSON string";
  }
  if (const auto queue = document.FindMember("queue");
      queue != document.MemberEnd() && !queue->value.IsString()) {
    return "\"queue\" must be a JSON string";
  }
  return {};
}

std::string json_problem(const char* json, std::size_t len) {
  rapidjson::Document document;
  // Numbers stay text: nothing here needs their value, and jsonb keeps digits a double
  // would round. Raw bytes must be UTF-8, as in the database.
  document.Parse<rapidjson::kParseValidateEncodingFlag | rapidjson::kParseNumbersAsStringsFlag>(
      json, len);
  if (document.HasParseError()) {
    return std::string("not valid JSON: ") + rapidjson::GetParseError_En(document.GetParseError()) +
           " at offset " + std::to_string(document.GetErrorOffset());
  }
  return escape_problem(std::string_view(json, len));
}

const pgtq_host_api& host_api() {
  static const pgtq_host_api api = [] {
    pgtq_host_api table{};
    table.struct_size = sizeof(pgtq_host_api);
    table.abi_major = PGTQ_ABI_MAJOR;
    table.abi_minor = PGTQ_ABI_MINOR;
    table.log = host_log;
    table.register_handler = host_register_handler;
    table.task_args = host_task_args;
    table.task_name = host_task_name;
    table.task_id = host_task_id;
    table.task_attempt = host_task_attempt;
    table.task_set_result = host_task_set_result;
    table.task_set_error = host_task_set_error;
    table.task_set_retry_delay = host_task_set_retry_delay;
    table.task_should_stop = host_task_should_stop;
    table.register_schedule = host_register_schedule;
    table.task_parents = host_task_parents;
    table.task_push_followup = host_task_push_followup;
    table.task_set_progress = host_task_set_progress;
    table.task_set_checkpoint = host_task_set_checkpoint;
    table.task_checkpoint = host_task_checkpoint;
    return table;
  }();
  return api;
}

} // namespace pgtq::plugin
