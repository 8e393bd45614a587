#pragma once

#include "plugin/host_api.hpp"

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

namespace pgtq::queue {

// In a worker process (isolation = process): hands a running handler's reports to pgtqd as
// worker::Report frames. A checkpoint goes at once, so that pgtqd has it should the process
// die next. Progress goes at most every k_progress_gap: a report within the gap waits, and a
// thread of its own sends the last one waiting once the gap has passed, so a handler that
// reports in a tight loop costs a frame per gap, not one per call, and its last report is not
// held back until its next one. What still waits when the attempt ends is dropped: the
// Finished frame carries the latest.
//
// Threads: begin(), end(), progress() and checkpoint() on the thread running handlers; send
// (given at construction) is called from that thread and the reporter's own.
class SocketReporter final : public plugin::TaskReporter {
public:
  static constexpr std::chrono::milliseconds k_progress_gap{200};

  explicit SocketReporter(std::function<void(const std::string& frame)> send);
  ~SocketReporter() override;
  SocketReporter(const SocketReporter&) = delete;
  SocketReporter& operator=(const SocketReporter&) = delete;

  // A new attempt: task_id and seq of its Run, which its reports carry.
  void begin(std::int64_t task_id, std::uint32_t seq);
  void end();

  void progress(std::string json) override;
  void checkpoint(std::string json) override;

private:
  using Clock = std::chrono::steady_clock;

  void flush_later(); // the reporter's thread
  void send_progress(std::int64_t task_id, std::uint32_t seq, const std::string& json);

  const std::function<void(const std::string&)> m_send;
  std::mutex m_mutex;
  std::condition_variable m_changed;
  std::int64_t m_task_id = 0;           // guarded
  std::uint32_t m_seq = 0;              // guarded
  std::optional<std::string> m_waiting; // guarded: progress within the gap
  Clock::time_point m_last_sent;        // guarded
  bool m_stopping = false;              // guarded
  std::thread m_thread;                 // started at the first progress that waits
};

} // namespace pgtq::queue
