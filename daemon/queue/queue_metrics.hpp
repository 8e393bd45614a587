#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>

namespace pgtq::queue {

// How long handlers ran, in the buckets a Prometheus histogram exposes (seconds; each
// bucket counts the observations at or below its bound, +Inf is count).
struct DurationHistogram {
  // From 5 ms (a JSON echo) to an hour (an export): a task queue's handlers span both.
  static constexpr std::array<double, 16> k_bounds = {
      0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600};
  std::array<std::uint64_t, k_bounds.size()> buckets{}; // not cumulative: bucket i only
  std::uint64_t count = 0;
  double sum = 0;

  void observe(double seconds);
};

// What became of an attempt, as pgtq.finish_many recorded it.
enum class Ending {
  succeeded,
  retried,   // failed with attempts left: queued again after the backoff
  failed,    // failed for good (the handler said so, or the last attempt)
  snoozed,   // asked to run again later, no attempt counted
  cancelled, // ended cancelled (a cancellation came while it ran)
  discarded, // the outcome came after the lease was lost: not recorded
};
// Their names, in the enum's order: the outcome label of pgtq_attempts_total.
inline constexpr std::array<const char*, 6> k_ending_names = {
    "succeeded", "retried", "failed", "snoozed", "cancelled", "discarded"};

// What became of the attempts of one task name, as the daemon recorded them.
struct TaskFigures {
  std::array<std::uint64_t, k_ending_names.size()> endings{}; // by Ending
  std::uint64_t timeouts = 0; // attempts that ran out of time (either isolation)
  std::uint64_t crashes = 0;  // attempts whose worker process died under them
  DurationHistogram duration; // how long the handler ran, every recorded attempt
};

// The counters of one claim loop that /metrics exposes (metrics/): written by the loop's
// thread and the workers' (relaxed atomics, a mutex for the per-task map), read by the HTTP
// server's thread. Counting costs an atomic add per event and a map lookup per outcome.
class QueueMetrics {
public:
  std::atomic<std::uint64_t> claim_queries{0};  // pgtq.claim calls
  std::atomic<std::uint64_t> claimed{0};        // tasks they handed out
  std::atomic<std::uint64_t> reconnects{0};     // sessions re-established after a loss
  std::atomic<std::uint64_t> notify_wakeups{0}; // turns a notification woke
  std::atomic<std::uint64_t> poll_wakeups{0};   // turns the poll timer woke

  // One recorded attempt of task `name`. timed_out / crashed: how it ended, as well.
  void
  record(const std::string& name, Ending ending, double duration_s, bool timed_out, bool crashed);
  // A copy of the per-task figures, by task name.
  std::map<std::string, TaskFigures> tasks() const;

private:
  mutable std::mutex m_mutex;
  std::map<std::string, TaskFigures> m_tasks; // guarded by m_mutex
};

} // namespace pgtq::queue
