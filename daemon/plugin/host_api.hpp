#pragma once

#include "plugin/handler_registry.hpp"
#include "queue/task.hpp"

#include <pgtq/plugin.h>

#include <atomic>
#include <optional>
#include <string>

// The host side of plugin.h: the opaque structs and the function table handed to plugins.

// One per loaded plugin; handed to its init() and kept for its log() calls.
struct pgtq_host {
  std::string plugin_name;
  std::string label; // "name (file.so)": unique even if two plugins share a name
  pgtq::plugin::HandlerRegistry* registry = nullptr;
  pgtq::plugin::BackoffPolicy default_backoff;
  bool registering = false; // register_handler is allowed only during init()
  int refused = 0;          // registrations refused during init()
};

// One per attempt, alive only while the handler runs (plugins see it BORROWED).
struct pgtq_task {
  const pgtq::queue::ClaimedTask* task = nullptr;
  const std::atomic<bool>* stop = nullptr;
  std::string result = "null";
  std::string error;
  std::string invalid_result; // why the last task_set_result was refused
  std::optional<double> retry_delay_s;
};

namespace pgtq::plugin {

// The table given to every plugin's init(); static, so valid for the process lifetime.
const pgtq_host_api& host_api();

// Validates JSON text the way pgtq stores it (PostgreSQL jsonb): returns an empty string
// when it is acceptable, else the reason.
std::string json_problem(const char* json, std::size_t len);

} // namespace pgtq::plugin
