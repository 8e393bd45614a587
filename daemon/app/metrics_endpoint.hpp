#pragma once

#include "app/config.hpp"
#include "app/queue_loops.hpp"
#include "http/http_server.hpp"
#include "metrics/queue_figures.hpp"
#include "queue/scheduler.hpp"

#include <optional>
#include <string_view>

namespace pgtq::app {

// pgtqd's HTTP endpoint (metrics-listen): GET /metrics, the Prometheus page; GET /, a
// pointer to it. Borrows the loops and the scheduler, which must outlive it.
//
// Threads: constructed and destroyed on the main thread; requests are answered on the HTTP
// server's thread.
class MetricsEndpoint {
public:
  // Listens at once. Throws ConfigError when the address cannot be listened on.
  MetricsEndpoint(const Config& config, const QueueLoops& loops, const queue::Scheduler* scheduler);

private:
  http::HttpResponse respond(std::string_view path);

  const QueueLoops& m_loops;
  const queue::Scheduler* m_scheduler;
  metrics::QueueFigures m_figures;          // the server's thread only
  std::optional<http::HttpServer> m_server; // last: stopped first
};

} // namespace pgtq::app
