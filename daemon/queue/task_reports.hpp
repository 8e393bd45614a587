#pragma once

#include "plugin/host_api.hpp"

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

namespace pgtq::queue {

// Raised by the first report after the claim loop last looked, so that the loop (which waits
// for other things most of the time) wakes to write reports: at most one wake-up per look,
// however often handlers report. Thread-safe; the loop clears the waker before it goes, as a
// handler thread may outlive it (isolation = thread, a handler that ignores should_stop).
class ReportSignal {
public:
  void set_waker(std::function<void()> waker) {
    const std::lock_guard lock(m_mutex);
    m_waker = std::move(waker);
  }
  void raise() {
    if (!m_raised.exchange(true)) {
      const std::lock_guard lock(m_mutex);
      if (m_waker) {
        m_waker();
      }
    }
  }
  // Whether a report came since the last take.
  bool take() { return m_raised.exchange(false); }

private:
  std::atomic<bool> m_raised{false};
  std::mutex m_mutex; // guards m_waker
  std::function<void()> m_waker;
};

// What the handler of one attempt reported last (plugin.h's task_set_progress and
// task_set_checkpoint), kept for two readers: the claim loop writes what is new at most once a
// second (pgtq.report), and the outcome carries the latest (OutcomeRecorder::add), also when
// pgtqd makes the outcome itself after a crash. Thread-safe: reports come from the worker
// thread running the handler, or (isolation = process) from the pool thread reading its worker
// process's frames.
class TaskReports final : public plugin::TaskReporter {
public:
  explicit TaskReports(std::shared_ptr<ReportSignal> signal = nullptr)
      : m_signal(std::move(signal)) {}

  void progress(std::string json) override;
  void checkpoint(std::string json) override;

  struct Latest {
    std::optional<std::string> progress;
    std::optional<std::string> checkpoint;
    bool empty() const { return !progress && !checkpoint; }
  };
  // The latest values.
  Latest latest() const;
  // What was reported since the last take (nothing of one that did not change), marking it
  // written; give_back() marks it unwritten again when writing it failed.
  Latest take_unwritten();
  void give_back(const Latest& unwritten);

private:
  const std::shared_ptr<ReportSignal> m_signal; // may be null
  mutable std::mutex m_mutex;
  Latest m_latest;
  bool m_progress_new = false;
  bool m_checkpoint_new = false;
};

} // namespace pgtq::queue
