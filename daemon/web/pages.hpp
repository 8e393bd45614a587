#pragma once

#include "db/connection.hpp"
#include "http/http_server.hpp"
#include "web/depth_history.hpp"
#include "web/page_frame.hpp"

#include <cstdint>
#include <optional>
#include <string>

namespace pgtq::web {

// The dashboard's pages, each a whole HTML document read from the database with SELECTs
// only. A database error propagates (db::PgError): the dashboard shows it.

// Every queue: depth by state, oldest queued age, last hour's ends, workers, paused (pause
// and resume buttons), and per queue plots of depth (history) and of ends and run time per
// minute (pgtq.queue_minutes).
std::string
queues_page(db::Connection& connection, const DepthHistory& history, const PageContext& context);
// A page of tasks, newest first, filtered by the request's query arguments (queue, state,
// task, unique_key, tag, error, created_after, created_before, finished_after,
// finished_before, limit, before). A bad value is shown on the page.
std::string tasks_page(db::Connection& connection,
                       const http::HttpRequest& request,
                       const PageContext& context);
// Everything about one task, with retry, cancel and delete where they apply; nothing for an
// unknown id.
std::optional<std::string>
task_page(db::Connection& connection, std::int64_t id, const PageContext& context);
// Failed tasks grouped by queue, task name and last error.
std::string failures_page(db::Connection& connection, const PageContext& context);
// The live workers (pgtq.live_workers).
std::string workers_page(db::Connection& connection, const PageContext& context);
// The periodic tasks (pgtq.schedules).
std::string schedules_page(db::Connection& connection, const PageContext& context);
// The login form; message (escaped) says why it is shown again; back is where to go after.
std::string login_page(const std::string& message, const std::string& back);

} // namespace pgtq::web
