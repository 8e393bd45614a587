#include "db/queries.hpp"
#include "web/html.hpp"
#include "web/pages.hpp"
#include "web/svg_chart.hpp"

#include <chrono>
#include <map>

namespace pgtq::web {
namespace {

std::int64_t now_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string number_cell(const std::string& field, const std::string& value) {
  return "<td class=\"num " + field + "\">" + html_escape(value) + "</td>";
}

std::string depth_chart(const DepthHistory& history, const std::string& queue) {
  const std::vector<DepthHistory::Sample> samples = history.samples(queue);
  ChartSeries queued{.name = "queued", .colour = "#1a55a8", .points = {}};
  ChartSeries running{.name = "running", .colour = "#1b7f3b", .points = {}};
  ChartSeries scheduled{.name = "scheduled", .colour = "#999", .points = {}};
  for (const DepthHistory::Sample& sample : samples) {
    const auto at = static_cast<double>(sample.at);
    queued.points.emplace_back(at, static_cast<double>(sample.queued));
    running.points.emplace_back(at, static_cast<double>(sample.running));
    scheduled.points.emplace_back(at, static_cast<double>(sample.scheduled));
  }
  const auto now = static_cast<double>(now_seconds());
  const double since = samples.empty() ? now : static_cast<double>(samples.front().at);
  const auto minutes = static_cast<long long>((now - since) / 60);
  return svg_chart({queued, running, scheduled},
                   since,
                   now,
                   minutes > 0 ? "-" + std::to_string(minutes) + " min" : "since start",
                   "now");
}

} // namespace

std::string
queues_page(db::Connection& connection, const DepthHistory& history, const PageContext& context) {
  const db::Result queues = connection.run(db::queries::k_web_queues, {});
  const db::Result minutes = connection.run(db::queries::k_web_queue_minutes, {});
  std::string body =
      "<table id=\"queues\"><tr><th>queue</th><th class=\"num\">queued</th>"
      "<th class=\"num\">scheduled</th><th class=\"num\">running</th><th class=\"num\">pending</th>"
      "<th class=\"num\">oldest queued (s)</th><th class=\"num\">succeeded 1h</th>"
      "<th class=\"num\">failed 1h</th><th class=\"num\">cancelled 1h</th>"
      "<th class=\"num\">workers (slots)</th><th>paused</th><th class=\"num\">wait p95 (s)</th>"
      "<th class=\"num\">run p95 (s)</th><th></th></tr>\n";
  for (int row = 0; row < queues.rows(); ++row) {
    const std::string queue = queues.string(row, 0);
    const bool paused = queues.text(row, 11) == "t";
    body +=
        "<tr data-queue=\"" + html_escape(queue) +
        "\"><td><a href=\"/tasks?queue=" + url_encode(queue) + "\">" + html_escape(queue) +
        "</a></td>" + number_cell("queued", queues.string(row, 1)) +
        number_cell("scheduled", queues.string(row, 2)) +
        number_cell("running", queues.string(row, 3)) +
        number_cell("pending", queues.string(row, 4)) +
        number_cell("oldest", queues.string(row, 5)) +
        number_cell("succeeded", queues.string(row, 6)) +
        number_cell("failed", queues.string(row, 7)) +
        number_cell("cancelled", queues.string(row, 8)) +
        number_cell("workers", queues.string(row, 9) + " (" + queues.string(row, 10) + ")") +
        "<td class=\"paused\">" + (paused ? "paused" : "") + "</td>" +
        number_cell("wait", queues.string(row, 12)) + number_cell("run", queues.string(row, 13)) +
        "<td>" +
        action_button(
            context, paused ? "resume" : "pause", {{"queue", queue}}, paused ? "resume" : "pause") +
        "</td></tr>\n";
  }
  body += "</table>\n";
  if (queues.rows() == 0) {
    body += "<p class=\"muted\">No queues yet: a queue appears with its first task.</p>";
  }

  // Ends and run time per minute, by queue.
  std::map<std::string, std::vector<ChartSeries>> per_minute;
  for (int row = 0; row < minutes.rows(); ++row) {
    auto& series = per_minute[minutes.string(row, 0)];
    if (series.empty()) {
      series = {{.name = "succeeded/min", .colour = "#1b7f3b", .points = {}},
                {.name = "failed/min", .colour = "#b00020", .points = {}},
                {.name = "run p95 s", .colour = "#1a55a8", .points = {}}};
    }
    const auto minute = static_cast<double>(minutes.int64(row, 1));
    series[0].points.emplace_back(minute, static_cast<double>(minutes.int64(row, 2)));
    series[1].points.emplace_back(minute, static_cast<double>(minutes.int64(row, 3)));
    series[2].points.emplace_back(minute, std::stod(minutes.string(row, 5)));
  }
  const auto now = static_cast<double>(now_seconds());
  const auto seconds = std::chrono::duration_cast<std::chrono::seconds>(history.interval());
  body += "<h2>Over time</h2><p class=\"muted\">Depth: sampled by this dashboard every " +
          std::to_string(seconds.count() > 0 ? seconds.count() : 1) +
          " s since it started and kept in its memory only (the database keeps no history of "
          "depths). Ends per minute and run time: the last hour of pgtq.queue_minutes.</p>\n";
  for (int row = 0; row < queues.rows(); ++row) {
    const std::string queue = queues.string(row, 0);
    std::vector<ChartSeries> ends = per_minute[queue];
    std::vector<ChartSeries> throughput(ends.begin(), ends.begin() + (ends.empty() ? 0 : 2));
    std::vector<ChartSeries> latency(ends.begin() + (ends.empty() ? 0 : 2), ends.end());
    body += "<h3>" + html_escape(queue) + "</h3><div class=\"charts\"><figure>" +
            "<figcaption>depth</figcaption>" + depth_chart(history, queue) +
            "</figure><figure><figcaption>ends per minute</figcaption>" +
            svg_chart(throughput, now - 3600, now, "-60 min", "now") +
            "</figure><figure><figcaption>run time, 95th percentile</figcaption>" +
            svg_chart(latency, now - 3600, now, "-60 min", "now") + "</figure></div>\n";
  }
  return page(context, "Queues", body);
}

} // namespace pgtq::web
