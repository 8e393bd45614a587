#pragma once

#include <optional>

namespace pgtq::queue {

// How many tasks the claim loop holds beyond its free workers (the prefetch).
//
// A fixed prefetch is the operator's number. prefetch = auto (the default) holds as many as
// the workers would start within k_window, judged by how long recent attempts ran: short
// tasks get a deep buffer, so that claims come in large batches and no worker waits on a
// claim's round trip, while long tasks get none, so that no task waits in this daemon's
// memory for a worker when another daemon could run it now. It starts at 0, before any
// attempt has been measured.
//
// Threads: the claim loop's thread only.
class PrefetchPolicy {
public:
  // How long a prefetched task should wait for a worker, at most (about).
  static constexpr double k_window_s = 0.005;
  // Auto never holds more than this many per worker.
  static constexpr int k_max_per_worker = 4;

  // fixed: the prefetch option's number; nothing for auto.
  PrefetchPolicy(int concurrency, std::optional<int> fixed)
      : m_concurrency(concurrency), m_fixed(fixed) {}

  // One attempt ran for duration_s seconds (its handler's time).
  void on_attempt(double duration_s);
  // Tasks to hold beyond the free workers now: 0 .. max(fixed, concurrency × 4).
  int prefetch() const;

private:
  int m_concurrency;
  std::optional<int> m_fixed;
  std::optional<double> m_mean_s; // moving mean of recent attempts' durations
};

} // namespace pgtq::queue
