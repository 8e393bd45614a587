#include "plugin/host_api.hpp"

#include <rapidjson/document.h>
#include <rapidjson/error/en.h>
#include <spdlog/spdlog.h>

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
    ++host->refused;
    return -1;
  }
  plugin_logger()->info("plugin \"{}\" registered task \"{}\"", host->plugin_name, handler->name);
  return 0;
}

void host_task_args(const pgtq_task* task, const char** json, size_t* len) {
  if (json != nullptr) {
    *json = task->task->args.c_str();
  }
  if (len != nullptr) {
    *len = task->task->args.size();
  }
}

const char* host_task_name(const pgtq_task* task) { return task->task->name.c_str(); }
int64_t host_task_id(const pgtq_task* task) { return task->task->id; }
int32_t host_task_attempt(const pgtq_task* task) { return task->task->attempt; }

int host_task_set_result(pgtq_task* task, const char* json, size_t len) {
  std::string problem = json == nullptr ? "NULL pointer" : json_problem(json, len);
  if (!problem.empty()) {
    task->invalid_result = std::move(problem);
    return -1;
  }
  task->invalid_result.clear();
  task->result.assign(json, len);
  return 0;
}

void host_task_set_error(pgtq_task* task, const char* msg, size_t len) {
  if (msg != nullptr) {
    task->error.assign(msg, len);
  }
}

void host_task_set_retry_delay(pgtq_task* task, double seconds) {
  if (std::isfinite(seconds)) {
    task->retry_delay_s = seconds < 0 ? 0 : seconds;
  }
}

int host_task_should_stop(const pgtq_task* task) {
  return task->stop != nullptr && task->stop->load(std::memory_order_relaxed) ? 1 : 0;
}

} // namespace

std::string json_problem(const char* json, std::size_t len) {
  rapidjson::Document document;
  document.Parse<rapidjson::kParseFullPrecisionFlag>(json, len);
  if (document.HasParseError()) {
    return std::string("not valid JSON: ") + rapidjson::GetParseError_En(document.GetParseError()) +
           " at offset " + std::to_string(document.GetErrorOffset());
  }
  // jsonb refuses the NUL character, which JSON can spell as \u0000 (but not \\u0000,
  // an escaped backslash followed by the text "u0000": count the backslashes).
  const std::string_view text(json, len);
  for (std::size_t at = text.find("u0000"); at != std::string_view::npos;
       at = text.find("u0000", at + 1)) {
    std::size_t backslashes = 0;
    while (backslashes < at && text[at - 1 - backslashes] == '\\') {
      ++backslashes;
    }
    if (backslashes % 2 == 1) {
      return "contains \\u0000, which PostgreSQL cannot store in jsonb";
    }
  }
  return {};
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
    return table;
  }();
  return api;
}

} // namespace pgtq::plugin
