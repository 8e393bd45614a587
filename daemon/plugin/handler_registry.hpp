#pragma once

#include <pgtq/plugin.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace pgtq::plugin {

// Per-task-name retry backoff, in seconds: base * factor^(attempt-1), capped, +-20 % jitter.
struct BackoffPolicy {
  double base_s = 1.0;
  double factor = 2.0;
  double cap_s = 3600.0;
};

// A registered handler: the plugin's pgtq_handler as copied at registration.
struct Handler {
  std::string name;
  std::string plugin; // the plugin that registered it, for logs
  pgtq_handler table{};
  BackoffPolicy backoff;
  // How long one attempt may run (pgtq_handler::timeout_s, ABI 1.1), in seconds; 0: the
  // daemon's task-timeout applies.
  double timeout_s = 0;
};

// A default periodic task a plugin shipped (pgtq_schedule, ABI 1.2), as copied at
// registration; pgtqd passes it to pgtq.register_schedule (app/plugin_schedules.cpp).
struct ScheduleDefault {
  std::string name;
  std::string plugin; // the plugin that registered it, for logs
  std::string queue;
  std::string task;
  std::optional<std::string> args; // JSON text
  std::optional<std::string> cron;
  double every_s = 0; // 0: cron
  std::optional<std::string> time_zone;
  std::optional<std::string> catch_up;
};

// Task name -> handler, and the plugins' default schedules. Filled while plugins initialise,
// read-only afterwards, so worker threads may look up without locking.
class HandlerRegistry {
public:
  // Returns an empty string on success, else why the handler was refused.
  std::string
  add(const std::string& plugin, const pgtq_handler& table, const BackoffPolicy& defaults);

  // Returns an empty string on success, else why the schedule was refused.
  std::string add_schedule(const std::string& plugin, const pgtq_schedule& schedule);
  const std::vector<ScheduleDefault>& schedules() const { return m_schedules; }

  const Handler* find(const std::string& name) const;
  std::vector<std::string> names() const;
  bool empty() const { return m_handlers.empty(); }
  // Removes (and destroys) every handler, and drops every schedule, of one plugin: used when
  // its init() fails.
  void remove_plugin(const std::string& plugin);
  // Calls every handler's destroy() once; used at shutdown.
  void destroy_all();

private:
  std::map<std::string, Handler> m_handlers;
  std::vector<ScheduleDefault> m_schedules;
};

} // namespace pgtq::plugin
