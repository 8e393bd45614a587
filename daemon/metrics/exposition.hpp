#pragma once

#include <cstdint>
#include <initializer_list>
#include <span>
#include <string>
#include <string_view>
#include <utility>

namespace pgtq::metrics {

// Label names and values of one sample, in the order written. Names must match
// [a-zA-Z_][a-zA-Z0-9_]* (the caller's constants); values are any UTF-8 text, escaped here.
using Labels = std::initializer_list<std::pair<std::string_view, std::string_view>>;

// Writes the Prometheus text exposition format, version 0.0.4
// (https://prometheus.io/docs/instrumenting/exposition_formats/): for each metric family
// its # HELP and # TYPE lines, then its samples. Families must not repeat, and a family's
// samples come right after its header. Not thread-safe: one page per writer.
class Exposition {
public:
  // Starts a family. type: "counter", "gauge" or "histogram". help: one line of plain text.
  void family(std::string_view name, std::string_view type, std::string_view help);
  // One sample of the current family: name{labels} value. name is the family's, or for a
  // histogram one of its _bucket, _sum and _count series.
  void sample(std::string_view name, Labels labels, double value);
  // A histogram's series: a cumulative _bucket per bound (the counts given per bucket, not
  // cumulative; counts.size() == bounds.size()), then +Inf, _sum and _count.
  void histogram(std::string_view name,
                 Labels labels,
                 std::span<const double> bounds,
                 std::span<const std::uint64_t> counts,
                 std::uint64_t count,
                 double sum);

  const std::string& text() const { return m_text; }

private:
  void
  write_labels(Labels labels, std::string_view extra_name = {}, std::string_view extra_value = {});
  void write_value(double value);

  std::string m_text;
};

// A float as the format spells it: the shortest text that reads back the same value, and
// +Inf, -Inf, NaN.
std::string format_value(double value);

} // namespace pgtq::metrics
