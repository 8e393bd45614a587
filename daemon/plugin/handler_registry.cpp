#include "plugin/handler_registry.hpp"

#include "plugin/plugin_call.hpp"

#include <pgtq/detail/names.hpp>

#include <algorithm>
#include <cstddef>
#include <utility>

namespace pgtq::plugin {
namespace {

// 100 years, pgtq's limit on any delay: longer is "never" (and infinity is not a deadline).
constexpr double k_max_timeout_s = 3155760000.0;

// Calls the handler's destroy() at most once, through the guard: one that throws is logged,
// and the others are still destroyed.
void call_destroy(Handler& handler) {
  if (const auto destroy = std::exchange(handler.table.destroy, nullptr); destroy != nullptr) {
    call_plugin(handler.plugin, "destroy()", [&] { destroy(handler.table.user_data); });
  }
}

} // namespace

std::string HandlerRegistry::add(const std::string& plugin,
                                 const pgtq_handler& table,
                                 const BackoffPolicy& defaults) {
  // Fields past what the plugin was compiled with count as absent (zero).
  pgtq_handler copy{};
  const std::size_t known = std::min<std::size_t>(table.struct_size, sizeof(pgtq_handler));
  if (known < PGTQ_SIZE_THROUGH(pgtq_handler, destroy)) {
    return "handler struct too small (" + std::to_string(table.struct_size) + " bytes)";
  }
  std::copy_n(reinterpret_cast<const unsigned char*>(&table),
              known,
              reinterpret_cast<unsigned char*>(&copy));
  if (copy.name == nullptr) {
    return "handler without a name";
  }
  const std::string name = copy.name;
  if (!pgtq::detail::is_valid_name(name)) {
    return "task name \"" + name + "\" is not 1-128 characters from [A-Za-z0-9_.:-]";
  }
  if (copy.handle == nullptr) {
    return "handler \"" + name + "\" has no handle function";
  }
  if (const auto existing = m_handlers.find(name); existing != m_handlers.end()) {
    return "task name \"" + name + "\" is already registered by plugin \"" +
           existing->second.plugin + "\"";
  }
  Handler handler;
  handler.name = name;
  handler.plugin = plugin;
  handler.table = copy;
  handler.table.name = nullptr; // the copy in handler.name is the one to use
  handler.backoff = defaults;
  if (copy.backoff_base_s > 0) {
    handler.backoff.base_s = copy.backoff_base_s;
  }
  if (copy.backoff_factor > 0) {
    handler.backoff.factor = copy.backoff_factor;
  }
  if (copy.backoff_cap_s > 0) {
    handler.backoff.cap_s = copy.backoff_cap_s;
  }
  // A 1.0 plugin's struct ends before timeout_s: the zeroed copy reads as "none".
  if (copy.timeout_s > 0) {
    handler.timeout_s = std::min(copy.timeout_s, k_max_timeout_s);
  }
  m_handlers.emplace(name, std::move(handler));
  return {};
}

const Handler* HandlerRegistry::find(const std::string& name) const {
  const auto found = m_handlers.find(name);
  return found == m_handlers.end() ? nullptr : &found->second;
}

std::vector<std::string> HandlerRegistry::names() const {
  std::vector<std::string> names;
  for (const auto& [name, handler] : m_handlers) {
    names.push_back(name);
  }
  return names;
}

std::string HandlerRegistry::add_schedule(const std::string& plugin,
                                          const pgtq_schedule& schedule) {
  if (schedule.struct_size < PGTQ_SIZE_THROUGH(pgtq_schedule, catch_up)) {
    return "schedule struct too small (" + std::to_string(schedule.struct_size) +
           " bytes, ABI 1.2 has " + std::to_string(PGTQ_SIZE_THROUGH(pgtq_schedule, catch_up)) +
           ")";
  }
  if (schedule.name == nullptr || schedule.queue == nullptr || schedule.task == nullptr) {
    return "a schedule needs a name, a queue and a task";
  }
  const std::string name = schedule.name;
  if ((schedule.cron == nullptr) == (schedule.every_s == 0)) {
    return "schedule \"" + name + "\" needs exactly one of cron and every_s";
  }
  for (const ScheduleDefault& known : m_schedules) {
    if (known.name == name) {
      return "schedule \"" + name + "\" is registered already (by " + known.plugin + ")";
    }
  }
  auto text = [](const char* value) {
    return value == nullptr ? std::nullopt : std::optional<std::string>(value);
  };
  m_schedules.push_back({.name = name,
                         .plugin = plugin,
                         .queue = schedule.queue,
                         .task = schedule.task,
                         .args = text(schedule.args),
                         .cron = text(schedule.cron),
                         .every_s = schedule.every_s,
                         .time_zone = text(schedule.time_zone),
                         .catch_up = text(schedule.catch_up)});
  return {};
}

void HandlerRegistry::remove_plugin(const std::string& plugin) {
  std::erase_if(m_schedules,
                [&plugin](const ScheduleDefault& schedule) { return schedule.plugin == plugin; });
  for (auto it = m_handlers.begin(); it != m_handlers.end();) {
    if (it->second.plugin == plugin) {
      call_destroy(it->second);
      it = m_handlers.erase(it);
    } else {
      ++it;
    }
  }
}

void HandlerRegistry::destroy_all() {
  for (auto& [name, handler] : m_handlers) {
    call_destroy(handler);
  }
}

} // namespace pgtq::plugin
