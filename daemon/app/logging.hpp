#pragma once

#include <string>

namespace pgtq::app {

// Sets up the named loggers (app, db, queue, scheduler, plugin) on one stderr sink. Under
// systemd ($JOURNAL_STREAM set) lines carry no timestamp and start with a syslog priority
// prefix (<3>, <4>, …) so journald records their level; interactively they are coloured.
// process: a label put before the logger's name on every line ("worker 3"), so that lines
// from pgtqd's worker processes, which share its stderr, say where they come from; empty
// for pgtqd itself. A line logged by a thread that works for a queue names it after the
// logger ("queue[emails]: ...", queue/log_context.hpp).
void setup_logging(const std::string& level, const std::string& process = "");

} // namespace pgtq::app
