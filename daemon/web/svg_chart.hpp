#pragma once

#include <string>
#include <utility>
#include <vector>

namespace pgtq::web {

// One line of a chart: points (x, y) in x order, drawn in colour (a CSS colour).
struct ChartSeries {
  std::string name;
  std::string colour;
  std::vector<std::pair<double, double>> points;
};

// A small line chart as inline SVG, no script: the series over [x_min, x_max], y from 0 to
// their largest value, with that value, the two ends' labels (x_left, x_right) and a legend.
// Says "no data yet" when no series has a point. Names and labels are escaped.
std::string svg_chart(const std::vector<ChartSeries>& series,
                      double x_min,
                      double x_max,
                      const std::string& x_left,
                      const std::string& x_right);

} // namespace pgtq::web
