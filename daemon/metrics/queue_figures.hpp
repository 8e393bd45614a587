#pragma once

#include "db/connection.hpp"

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
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

// The per-queue figures of /metrics, read from the database on a connection of its own and
// kept for `ttl`, so that scrapes every few seconds by several Prometheus servers cost the
// database one query per ttl per pgtqd. Every queue of the database is shown, not only those
// this pgtqd serves: an alert on a queue nobody serves needs it.
//
// Threads: one at a time (the HTTP server's thread).
class QueueFigures {
public:
  struct Settings {
    std::string dsn;
    std::string application_name;
    bool prepared_statements = true;
    std::chrono::milliseconds ttl{5000};
  };

  explicit QueueFigures(Settings settings) : m_settings(std::move(settings)) {}

  struct Reading {
    std::vector<QueueFigure> queues;
    bool ok = false;  // the last query succeeded; false: queues is the last good reading
    double age_s = 0; // how old queues is
  };
  // The cached figures, read again when older than the ttl. A failure is logged once (until a
  // query succeeds again) and returns the last good reading with ok false.
  Reading read();

private:
  using Clock = std::chrono::steady_clock;

  Settings m_settings;
  std::optional<db::Connection> m_connection;
  std::vector<QueueFigure> m_queues;
  std::optional<Clock::time_point> m_read_at; // of m_queues
  std::optional<Clock::time_point> m_tried_at;
  bool m_ok = false;
  bool m_warned = false;
};

} // namespace pgtq::metrics
