#pragma once

#include "queue/task_reports.hpp"

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

namespace pgtq::queue {

// One claimed attempt this daemon holds, from the claim until its outcome is recorded (or
// it is released). Shared by the claim loop, the lease keeper and the worker running it.
struct Attempt {
  explicit Attempt(std::int64_t token, std::shared_ptr<ReportSignal> signal = nullptr)
      : claim(token), reports(std::make_shared<TaskReports>(std::move(signal))) {}

  const std::int64_t claim;
  // The handler sees it through should_stop(). Raised by the claim loop (cancellation,
  // release at the end of the grace period) and the lease keeper (lost, cancel, lease run
  // out); read by the worker.
  std::atomic<bool> stop{false};
  // The stop was a cancellation (pgtq.cancel). Written by the claim loop and the lease
  // keeper; read by the claim loop's thread (recorder, releaser) for the log and counters.
  std::atomic<bool> cancelled{false};
  // The stop came at the end of shutdown's grace period: the task is to be given back
  // (isolation = process: once its worker has ended). Written by the claim loop before it
  // raises stop; read by the worker and the releaser.
  std::atomic<bool> shutting_down{false};
  // The handler returned; the outcome waits to be recorded. Written by the worker
  // (OutcomeRecorder::add); read by the lease keeper (nothing left to stop) and the claim
  // loop (not released at the end of the grace period).
  std::atomic<bool> finished{false};
  // The stop came from the lease keeper's fence (InFlightTasks::fence): another daemon may run
  // the task a quarter of the session grace from now, so a worker process is killed at once
  // instead of after timeout-grace. Written before stop is raised; read by the worker.
  std::atomic<bool> fenced{false};
  // What its handler reported (progress, checkpoint): written by the worker running it, read
  // by the claim loop. A pointer, so that a runner holding a const Attempt& may report.
  const std::shared_ptr<TaskReports> reports;
};

// The attempts in flight, keyed by task id, with the time until which each lease is known to
// hold (the claim's or the last renewal's send time plus the lease). Thread-safe: attempts
// are added and removed by the claim loop's thread, renewed by the lease keeper's, and
// looked up by every thread (workers included).
class InFlightTasks {
public:
  using Clock = std::chrono::steady_clock;

  std::shared_ptr<Attempt> add(std::int64_t id, std::int64_t claim, Clock::time_point lease_until);
  std::shared_ptr<Attempt> find(std::int64_t id) const;
  // The task's attempt if it is still held under this claim (nothing once it was claimed
  // again under a newer one, or erased).
  std::shared_ptr<Attempt> find(std::int64_t id, std::int64_t claim) const;
  // Removes the task if it is still held under this claim (a task retried at once may already
  // be claimed again under a newer one).
  void erase(std::int64_t id, std::int64_t claim);
  void clear();
  // Raised by the reports of every attempt added from now on (the claim loop's wake-up).
  ReportSignal& report_signal() { return *m_report_signal; }
  std::size_t size() const;
  bool empty() const { return size() == 0; }

  struct Held {
    std::int64_t id;
    std::shared_ptr<Attempt> attempt;
  };
  // In id order.
  std::vector<Held> snapshot() const;

  // The database renewed this lease (a renewal sent at some time, plus the lease).
  void renewed(std::int64_t id, std::int64_t claim, Clock::time_point lease_until);
  // Raises the stop flag of every running attempt whose lease passed without a renewal,
  // without waiting for the database to say so; returns the ids stopped by this call.
  std::vector<std::int64_t> stop_expired(Clock::time_point now);
  // When the next lease runs out, if any is held and not stopped yet.
  std::optional<Clock::time_point> next_expiry() const;
  // Makes every lease held, and every one added later, count as running out at until at the
  // latest (nullopt: lifts it); renewals do not lift it. The lease keeper fences this way when
  // the session the registry names ended: from its grace on, other daemons may rescue these
  // tasks (13_workers.sql).
  void fence(std::optional<Clock::time_point> until);
  // Whether the fence has passed: the claim loop claims nothing then, as what it claimed would
  // be stopped at once.
  bool fence_passed(Clock::time_point now) const;

private:
  struct Entry {
    std::shared_ptr<Attempt> attempt;
    Clock::time_point lease_until;
  };

  Clock::time_point expiry(const Entry& entry) const; // with m_mutex held

  const std::shared_ptr<ReportSignal> m_report_signal = std::make_shared<ReportSignal>();
  mutable std::mutex m_mutex;
  std::map<std::int64_t, Entry> m_tasks;
  std::optional<Clock::time_point> m_fence;
};

} // namespace pgtq::queue
