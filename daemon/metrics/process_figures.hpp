#pragma once

#include <optional>

namespace pgtq::metrics {

// The standard process metrics of Prometheus clients (process_cpu_seconds_total and the
// rest), read from /proc/self: pgtqd's own process, not its worker processes.
struct ProcessFigures {
  double cpu_seconds = 0; // user + system
  double resident_bytes = 0;
  double virtual_bytes = 0;
  double start_time_seconds = 0; // since the Unix epoch
  double open_fds = 0;
  double max_fds = 0;
};

// Nothing when /proc cannot be read.
std::optional<ProcessFigures> read_process_figures();

} // namespace pgtq::metrics
