#pragma once

#include <cstddef>
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
// How deep auto may go follows the backlog. While claims come back full (the queue held at
// least what this daemon asked for), each full claim doubles the depth per worker, up to
// k_deep_per_worker; a claim that comes back short (the queue ran dry) sets it back to
// k_shallow_per_worker for the claims after it. Large batches are what make a claimed task
// cheap for the server (a claim and an outcome statement per batch, not per task). What
// bounds how long a held task waits, whatever the depth, is the window: the workers start
// every held task within about k_window at the recent attempts' pace, and once that pace
// slows, keep_waiting() has the claim loop give back what they would not start soon. The
// held tasks' args stay under about k_held_bytes, judged by the recent claims (a rise counts
// at once, a fall slowly), so that large args are not held by the hundred. Every figure is
// per queue with workers of its own.
//
// Threads: the claim loop's thread only.
class PrefetchPolicy {
public:
  // How long a prefetched task should wait for a worker, at most (about).
  static constexpr double k_window_s = 0.005;
  // How long a held task may be expected to wait before it is given back: several windows,
  // so that the moving mean's noise gives nothing back.
  static constexpr double k_keep_window_s = 20 * k_window_s;
  // Auto's depth per worker at the queue's tail, and while its backlog is deep.
  static constexpr int k_shallow_per_worker = 4;
  static constexpr int k_deep_per_worker = 32;
  // Auto never holds more than this many in all, whatever the concurrency.
  static constexpr int k_max_held = 512;
  // Auto holds at most about this many bytes of args (JSON text).
  static constexpr double k_held_bytes = 8.0 * 1024 * 1024;

  // fixed: the prefetch option's number; nothing for auto.
  PrefetchPolicy(int concurrency, std::optional<int> fixed)
      : m_concurrency(concurrency), m_fixed(fixed) {}

  // One attempt ran for duration_s seconds (its handler's time).
  void on_attempt(double duration_s);
  // A claim asked for `requested` tasks and got `claimed`, whose args came to args_bytes.
  void on_claim(int requested, int claimed, std::size_t args_bytes);
  // Tasks to hold beyond the free workers now: the fixed number, or for auto 0 up to
  // min(concurrency × k_deep_per_worker, k_max_held).
  int prefetch() const;
  // Auto only: how many of the tasks already held may keep waiting for a worker, those the
  // workers start within k_keep_window_s at the recent attempts' pace; the claim loop gives
  // the rest back to the queue, so that tasks claimed while the queue's attempts were short
  // do not wait here behind slow ones while other daemons could run them. Nothing for a
  // fixed prefetch (the operator's number) and before an attempt has been measured.
  std::optional<int> keep_waiting() const;

private:
  // Tasks the workers start within window_s at the recent attempts' pace (m_mean_s is set).
  double startable_within(double window_s) const;

  int m_concurrency;
  std::optional<int> m_fixed;
  std::optional<double> m_mean_s;          // moving mean of recent attempts' durations
  std::optional<double> m_mean_bytes;      // moving mean of recent claimed tasks' args sizes
  int m_per_worker = k_shallow_per_worker; // auto's depth now
};

} // namespace pgtq::queue
