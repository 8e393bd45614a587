#include "metrics/exposition.hpp"

#include <fmt/format.h>

#include <cmath>

namespace pgtq::metrics {
namespace {

// HELP text escapes backslash and newline; label values also the double quote.
void append_escaped(std::string& out, std::string_view text, bool quote) {
  for (const char c : text) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '"' && quote) {
      out += "\\\"";
    } else {
      out += c;
    }
  }
}

} // namespace

std::string format_value(double value) {
  if (std::isnan(value)) {
    return "NaN";
  }
  if (std::isinf(value)) {
    return value > 0 ? "+Inf" : "-Inf";
  }
  return fmt::format("{}", value);
}

void Exposition::family(std::string_view name, std::string_view type, std::string_view help) {
  m_text += "# HELP ";
  m_text += name;
  m_text += ' ';
  append_escaped(m_text, help, false);
  m_text += "\n# TYPE ";
  m_text += name;
  m_text += ' ';
  m_text += type;
  m_text += '\n';
}

void Exposition::sample(std::string_view name, Labels labels, double value) {
  m_text += name;
  write_labels(labels);
  write_value(value);
}

void Exposition::histogram(std::string_view name,
                           Labels labels,
                           std::span<const double> bounds,
                           std::span<const std::uint64_t> counts,
                           std::uint64_t count,
                           double sum) {
  const std::string bucket = std::string(name) + "_bucket";
  std::uint64_t cumulative = 0;
  for (std::size_t i = 0; i < bounds.size() && i < counts.size(); ++i) {
    cumulative += counts[i];
    m_text += bucket;
    write_labels(labels, "le", format_value(bounds[i]));
    write_value(static_cast<double>(cumulative));
  }
  m_text += bucket;
  write_labels(labels, "le", "+Inf");
  write_value(static_cast<double>(count));
  sample(std::string(name) + "_sum", labels, sum);
  sample(std::string(name) + "_count", labels, static_cast<double>(count));
}

void Exposition::write_labels(Labels labels,
                              std::string_view extra_name,
                              std::string_view extra_value) {
  if (labels.size() == 0 && extra_name.empty()) {
    return;
  }
  m_text += '{';
  bool first = true;
  const auto write = [&](std::string_view name, std::string_view value) {
    if (!first) {
      m_text += ',';
    }
    first = false;
    m_text += name;
    m_text += "=\"";
    append_escaped(m_text, value, true);
    m_text += '"';
  };
  for (const auto& [name, value] : labels) {
    write(name, value);
  }
  if (!extra_name.empty()) {
    write(extra_name, extra_value);
  }
  m_text += '}';
}

void Exposition::write_value(double value) {
  m_text += ' ';
  m_text += format_value(value);
  m_text += '\n';
}

} // namespace pgtq::metrics
