#pragma once

#include <string>

namespace pgtq::app {

// Sets up the named loggers (app, db, queue, scheduler, plugin) on one stderr sink. Under
// systemd ($JOURNAL_STREAM set) lines carry no timestamp and start with a syslog priority
// prefix (<3>, <4>, …) so journald records their level; interactively they are coloured.
void setup_logging(const std::string& level);

} // namespace pgtq::app
