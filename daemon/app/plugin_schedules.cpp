#include "app/plugin_schedules.hpp"

#include "db/pg_error.hpp"
#include "db/queries.hpp"

#include <spdlog/spdlog.h>

namespace pgtq::app {

void register_plugin_schedules(db::Connection& connection,
                               const plugin::HandlerRegistry& registry) {
  for (const plugin::ScheduleDefault& schedule : registry.schedules()) {
    // Seconds as text PostgreSQL reads exactly ("1.5 seconds"), whatever the IntervalStyle.
    const std::string every = fmt::format("{} seconds", schedule.every_s);
    const auto text = [](const std::optional<std::string>& value) {
      return value ? db::Param(*value) : std::nullopt;
    };
    try {
      const db::Result done = connection.run(db::queries::k_register_schedule,
                                             {schedule.name,
                                              schedule.queue,
                                              schedule.task,
                                              text(schedule.args),
                                              text(schedule.cron),
                                              schedule.cron ? std::nullopt : db::Param(every),
                                              text(schedule.time_zone),
                                              text(schedule.catch_up)});
      const std::string_view what = done.text(0, 0);
      if (what == "kept" || what == "deleted") {
        spdlog::info("schedule {} of plugin {}: left as an operator {} it",
                     schedule.name,
                     schedule.plugin,
                     what == "kept" ? "changed" : "deleted");
      } else {
        spdlog::info("schedule {} of plugin {}: {}", schedule.name, schedule.plugin, what);
      }
    } catch (const db::PgError& error) {
      if (error.is_connection_error()) {
        throw;
      }
      spdlog::error("schedule {} of plugin {} refused by the database: {}",
                    schedule.name,
                    schedule.plugin,
                    error.what());
    }
  }
}

} // namespace pgtq::app
