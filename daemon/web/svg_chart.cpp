#include "web/svg_chart.hpp"

#include "web/html.hpp"

#include <algorithm>
#include <cstdio>

namespace pgtq::web {
namespace {

constexpr double k_width = 360;
constexpr double k_plot_height = 90; // the plot; below it the x labels, then the legend
constexpr double k_height = k_plot_height + 34;
constexpr double k_left = 40; // room for the y labels

std::string number(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%.1f", value);
  return text;
}

std::string label(double value) {
  char text[32];
  std::snprintf(text, sizeof text, value == static_cast<long long>(value) ? "%.0f" : "%.2f", value);
  return text;
}

} // namespace

std::string svg_chart(const std::vector<ChartSeries>& series,
                      double x_min,
                      double x_max,
                      const std::string& x_left,
                      const std::string& x_right) {
  double y_max = 0;
  bool any = false;
  for (const ChartSeries& each : series) {
    for (const auto& [x, y] : each.points) {
      y_max = std::max(y_max, y);
      any = true;
    }
  }
  std::string svg = "<svg class=\"chart\" viewBox=\"0 0 " + number(k_width) + " " +
                    number(k_height) + "\" width=\"" + number(k_width) + "\" height=\"" +
                    number(k_height) + "\" role=\"img\">";
  const double plot_width = k_width - k_left - 4;
  const double plot_height = k_plot_height;
  const double x_labels = 4 + plot_height + 12;
  const double legend = x_labels + 14;
  svg += "<rect x=\"" + number(k_left) + "\" y=\"4\" width=\"" + number(plot_width) +
         "\" height=\"" + number(plot_height) + "\" fill=\"#fafafa\" stroke=\"#ccc\"/>";
  if (!any) {
    svg += "<text x=\"" + number(k_left + 8) + "\" y=\"" + number(4 + plot_height / 2) +
           "\" class=\"muted\">no data yet</text></svg>";
    return svg;
  }
  const double y_top = y_max > 0 ? y_max : 1;
  const double x_span = x_max > x_min ? x_max - x_min : 1;
  svg += "<text x=\"" + number(k_left - 4) + "\" y=\"14\" text-anchor=\"end\">" + label(y_top) +
         "</text>";
  svg += "<text x=\"" + number(k_left - 4) + "\" y=\"" + number(4 + plot_height) +
         "\" text-anchor=\"end\">0</text>";
  svg += "<text x=\"" + number(k_left) + "\" y=\"" + number(x_labels) + "\">" +
         html_escape(x_left) + "</text>";
  svg += "<text x=\"" + number(k_width - 4) + "\" y=\"" + number(x_labels) +
         "\" text-anchor=\"end\">" + html_escape(x_right) + "</text>";
  double legend_x = k_left;
  for (const ChartSeries& each : series) {
    std::string points;
    for (const auto& [x, y] : each.points) {
      const double px = k_left + (std::clamp(x, x_min, x_max) - x_min) / x_span * plot_width;
      const double py = 4 + plot_height - y / y_top * plot_height;
      points += number(px) + "," + number(py) + " ";
    }
    svg += "<polyline fill=\"none\" stroke-width=\"1.5\" stroke=\"" + html_escape(each.colour) +
           "\" points=\"" + points + "\"/>";
    if (each.points.size() == 1) { // one point draws no line: a dot instead
      svg += "<circle r=\"2\" fill=\"" + html_escape(each.colour) + "\" cx=\"" +
             points.substr(0, points.find(',')) + "\" cy=\"" +
             points.substr(points.find(',') + 1, points.find(' ') - points.find(',') - 1) + "\"/>";
    }
    svg += "<text x=\"" + number(legend_x) + "\" y=\"" + number(legend) +
           "\" style=\"fill: " + html_escape(each.colour) + "\">" + html_escape(each.name) +
           "</text>";
    legend_x += 6.0 * static_cast<double>(each.name.size()) + 16;
  }
  svg += "</svg>";
  return svg;
}

} // namespace pgtq::web
