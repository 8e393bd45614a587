#include "web/depth_history.hpp"

#include "db/connection.hpp"
#include "db/queries.hpp"

#include <spdlog/spdlog.h>

#include <optional>

namespace pgtq::web {

DepthHistory::DepthHistory(std::string dsn,
                           std::chrono::milliseconds interval,
                           std::size_t capacity)
    : m_dsn(std::move(dsn)), m_interval(interval), m_capacity(capacity),
      m_thread([this] { run(); }) {}

DepthHistory::~DepthHistory() {
  {
    const std::lock_guard lock(m_mutex);
    m_stop = true;
  }
  m_wake.notify_all();
  m_thread.join();
}

std::vector<DepthHistory::Sample> DepthHistory::samples(const std::string& queue) const {
  const std::lock_guard lock(m_mutex);
  const auto found = m_samples.find(queue);
  return found == m_samples.end() ? std::vector<Sample>{}
                                  : std::vector<Sample>(found->second.begin(), found->second.end());
}

void DepthHistory::run() {
  std::optional<db::Connection> connection;
  bool failing = false;
  std::unique_lock lock(m_mutex);
  while (!m_stop) {
    lock.unlock();
    try {
      if (!connection || !connection->is_ok()) {
        connection.emplace(m_dsn,
                           "pgtqctl web depths",
                           db::SessionSettings{.statement_timeout = std::chrono::seconds(5)});
      }
      sample_once(*connection);
      if (failing) {
        spdlog::info("dashboard: queue depths read again");
      }
      failing = false;
    } catch (const std::exception& error) {
      // Logged once per streak: the pages say the plot has gaps, the log says why.
      if (!failing) {
        spdlog::warn("dashboard: cannot read queue depths, trying again: {}", error.what());
      }
      failing = true;
      connection.reset(); // a new one next time, whatever broke
    }
    lock.lock();
    m_wake.wait_for(lock, m_interval, [this] { return m_stop; });
  }
}

void DepthHistory::sample_once(db::Connection& connection) {
  const db::Result rows = connection.run(db::queries::k_web_depth_sample, {});
  const std::int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();
  const std::lock_guard lock(m_mutex);
  for (int row = 0; row < rows.rows(); ++row) {
    std::deque<Sample>& ring = m_samples[rows.string(row, 0)];
    ring.push_back({.at = now,
                    .queued = rows.int64(row, 1),
                    .scheduled = rows.int64(row, 2),
                    .running = rows.int64(row, 3)});
    while (ring.size() > m_capacity) {
      ring.pop_front();
    }
  }
}

} // namespace pgtq::web
