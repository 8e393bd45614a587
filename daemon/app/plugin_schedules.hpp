#pragma once

#include "db/connection.hpp"
#include "plugin/handler_registry.hpp"

namespace pgtq::app {

// Passes the default schedules the plugins registered (plugin.h's register_schedule) to
// pgtq.register_schedule, one statement each, and logs what each did: created, updated, or
// left as an operator set or deleted it. A schedule the database refuses is logged as an
// error and skipped: the daemon serves its tasks whatever a default schedule says. Throws
// db::PgError only for a lost connection.
void register_plugin_schedules(db::Connection& connection, const plugin::HandlerRegistry& registry);

} // namespace pgtq::app
