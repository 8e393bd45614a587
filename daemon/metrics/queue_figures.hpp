#pragma once

#include "db/connection.hpp"

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace pgtq::metrics {

// One queue's figures as the database has them now.
struct QueueFigure {
  std::string queue;
  std::int64_t queued = 0;
  std::int64_t scheduled = 0;
  std::int64_t running = 0;
  std::int64_t pending = 0;
  double oldest_queued_age_s = 0; // 0: none queued
  std::int64_t workers = 0;       // live pgtqd serving it (the registry)
  std::int64_t worker_slots = 0;  // their concurrency, summed
  bool paused = false;
};

// The per-queue figures of /metrics, read from the database by a thread of its own, on a
// connection of its own, at most once per `ttl` and only while someone scrapes: scrapes every
// few seconds by several Prometheus servers cost the database one query per ttl per pgtqd,
// and none at all when nobody scrapes. Every queue of the database is shown, not only those
// this pgtqd serves: an alert on a queue nobody serves needs it.
//
// A scrape never waits on the database for more than k_scrape_wait: a database that is slow
// or unreachable makes the figures stale (ok false), not the scrape late, so that the
// daemon's own counters still reach Prometheus. Each query runs in a transaction with its own
// statement and lock timeouts (SET LOCAL, so they hold behind a transaction pooler too).
//
// Threads: read() from any thread; the destructor stops the reader (waiting for a query in
// flight, at most the timeouts above plus libpq's connect_timeout).
class QueueFigures {
public:
  struct Settings {
    std::string dsn;
    std::string application_name;
    bool prepared_statements = true;
    std::chrono::milliseconds ttl{5000};
  };
  static constexpr std::chrono::milliseconds k_scrape_wait{2000};

  explicit QueueFigures(Settings settings);
  ~QueueFigures();
  QueueFigures(const QueueFigures&) = delete;
  QueueFigures& operator=(const QueueFigures&) = delete;

  struct Reading {
    std::vector<QueueFigure> queues;
    bool ok = false;  // the last query succeeded and queues is its result
    double age_s = 0; // how old queues is
  };
  // The figures, read again first (waiting at most k_scrape_wait) when older than the ttl. A
  // failure is logged once (until a query succeeds again) and reads ok false.
  Reading read();

private:
  using Clock = std::chrono::steady_clock;

  void run();
  // One query; the result, or nothing after an error (logged).
  std::optional<std::vector<QueueFigure>> query();

  const Settings m_settings;
  std::optional<db::Connection> m_connection; // the reader's thread only
  bool m_warned = false;                      // the reader's thread only

  std::mutex m_mutex; // guards what follows
  std::condition_variable m_changed;
  std::vector<QueueFigure> m_queues;
  bool m_ok = false;
  std::optional<Clock::time_point> m_read_at;    // when the last query (ok or not) ended
  std::optional<Clock::time_point> m_queries_at; // of m_queues
  bool m_wanted = false;                         // a scrape waits for a new reading
  bool m_stopping = false;
  std::thread m_thread; // last: started once the rest is constructed
};

} // namespace pgtq::metrics
