#include "app/metrics_endpoint.hpp"

#include "app/component_settings.hpp"
#include "metrics/metrics_page.hpp"
#include "queue/sessions.hpp"

#include <build_config.hpp>
#include <spdlog/spdlog.h>

namespace pgtq::app {

MetricsEndpoint::MetricsEndpoint(const Config& config,
                                 const QueueLoops& loops,
                                 const queue::Scheduler* scheduler)
    : m_loops(loops), m_scheduler(scheduler),
      m_figures(
          {.dsn = config.dsn,
           .application_name = queue::application_name(connection_settings(config), "metrics"),
           .prepared_statements = config.prepared_statements}) {
  std::string why;
  const auto address = http::parse_listen_address(config.metrics_listen, &why);
  if (!address) {
    throw ConfigError("metrics-listen " + why); // checked with the options already
  }
  try {
    m_server.emplace(
        *address,
        [this](const http::HttpRequest& request) { return respond(request.path); },
        http::HttpServer::Options{.log_name = "metrics endpoint"});
  } catch (const std::runtime_error& error) {
    throw ConfigError(std::string("metrics-listen: ") + error.what());
  }
  const bool v6 = address->host.find(':') != std::string::npos;
  spdlog::info("metrics served at http://{}{}{}:{}/metrics",
               v6 ? "[" : "",
               address->host,
               v6 ? "]" : "",
               m_server->port());
}

http::HttpResponse MetricsEndpoint::respond(std::string_view path) {
  if (path == "/metrics") {
    metrics::PageSources sources{.version = build::k_version,
                                 .loops = m_loops.metric_views(),
                                 .scheduler = m_scheduler ? &m_scheduler->counters() : nullptr,
                                 .database = m_figures.read(),
                                 .process = metrics::read_process_figures()};
    return {.content_type = "text/plain; version=0.0.4; charset=utf-8",
            .body = metrics::render_metrics(sources)};
  }
  if (path == "/") {
    return {.content_type = "text/html; charset=utf-8",
            .body = "<!doctype html><title>pgtqd</title><p>pgtqd " + std::string(build::k_version) +
                    ": <a href=\"/metrics\">metrics</a></p>\n"};
  }
  return {.status = 404, .body = "not found: pgtqd serves /metrics\n"};
}

} // namespace pgtq::app
