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
// How deep auto may go follows the backlog. While claims come back full (the queue holds
// more than this daemon asked for, so the other daemons serving it have tasks of their own
// to claim), each full claim doubles the depth per worker, up to k_deep_per_worker; a claim
// that comes back short (the daemon now holds the queue's tail) sets it back to
// k_shallow_per_worker. Large batches are what make a claimed task cheap for the server (a
// claim and an outcome statement per batch, not per task); the shallow depth at the tail
// keeps the last tasks spread over the daemons. Whatever the depth, the held tasks' args
// stay under k_held_bytes (judged by the recent claims' mean), so that large args are never
// held by the hundred.
//
// Threads: the claim loop's thread only.
class PrefetchPolicy {
public:
  // How long a prefetched task should wait for a worker, at most (about).
  static constexpr double k_window_s = 0.005;
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

private:
  int m_concurrency;
  std::optional<int> m_fixed;
  std::optional<double> m_mean_s;          // moving mean of recent attempts' durations
  std::optional<double> m_mean_bytes;      // moving mean of recent claimed tasks' args sizes
  int m_per_worker = k_shallow_per_worker; // auto's depth now
};

} // namespace pgtq::queue
