#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace pgtq::db {
class Connection;
}

namespace pgtq::web {

// Each queue's depth over time, as the dashboard saw it. The database keeps no history of
// depths (only of ended tasks, pgtq.queue_minutes), so a thread of its own reads
// pgtq.queue_stats every interval and keeps the last `capacity` samples per queue in memory:
// the plot starts empty when the dashboard starts and is lost when it stops.
//
// Threads: the sampler thread writes, the HTTP server's thread reads; one mutex guards the
// samples. The constructor starts the thread, the destructor stops and joins it.
class DepthHistory {
public:
  struct Sample {
    std::int64_t at; // seconds since the epoch
    std::int64_t queued;
    std::int64_t scheduled;
    std::int64_t running;
  };

  DepthHistory(std::string dsn, std::chrono::milliseconds interval, std::size_t capacity);
  ~DepthHistory();
  DepthHistory(const DepthHistory&) = delete;
  DepthHistory& operator=(const DepthHistory&) = delete;

  std::vector<Sample> samples(const std::string& queue) const;
  std::chrono::milliseconds interval() const { return m_interval; }

private:
  void run();
  // One reading of every queue; throws db::PgError when the database cannot be read.
  void sample_once(db::Connection& connection);

  const std::string m_dsn;
  const std::chrono::milliseconds m_interval;
  const std::size_t m_capacity;
  mutable std::mutex m_mutex;
  std::condition_variable m_wake;
  bool m_stop = false;                                 // m_mutex
  std::map<std::string, std::deque<Sample>> m_samples; // m_mutex
  std::thread m_thread;                                // last: started once the rest exists
};

} // namespace pgtq::web
