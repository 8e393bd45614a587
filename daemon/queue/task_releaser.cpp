#include "queue/task_releaser.hpp"

#include "db/queries.hpp"
#include "queue/fences.hpp"
#include "queue/queue_logger.hpp"

#include <spdlog/spdlog.h>

namespace pgtq::queue {

void TaskReleaser::add(ClaimedTask&& task) {
  const std::lock_guard lock(m_mutex);
  m_not_started.push_back(std::move(task));
}

void TaskReleaser::add(std::vector<ClaimedTask>&& tasks) {
  if (tasks.empty()) {
    return;
  }
  const std::lock_guard lock(m_mutex);
  m_not_started.insert(m_not_started.end(),
                       std::make_move_iterator(tasks.begin()),
                       std::make_move_iterator(tasks.end()));
}

void TaskReleaser::release_not_started(db::Connection& connection, bool draining) {
  std::vector<ClaimedTask> tasks;
  {
    const std::lock_guard lock(m_mutex);
    tasks.swap(m_not_started);
  }
  if (tasks.empty()) {
    return;
  }
  Fences back;
  for (const ClaimedTask& task : tasks) {
    back.add(task.id, task.claim);
  }
  try {
    connection.run(db::queries::k_release, {back.id_array(), back.claim_array()});
  } catch (...) {
    // Kept for the next turn; the error goes on to the claim loop.
    const std::lock_guard lock(m_mutex);
    m_not_started.insert(m_not_started.end(), tasks.begin(), tasks.end());
    throw;
  }
  int prefetched = 0;
  for (const ClaimedTask& task : tasks) {
    const auto attempt = m_in_flight.find(task.id);
    const bool cancelled = attempt && attempt->claim == task.claim && attempt->cancelled.load();
    m_in_flight.erase(task.id, task.claim);
    if (!cancelled && draining) {
      ++prefetched; // taken back from the pool when draining started
      continue;
    }
    logger()->info("task {} ({}) {} before it started; not run",
                   task.id,
                   task.name,
                   cancelled ? "cancelled" : "lost its lease");
  }
  if (prefetched > 0) {
    logger()->info("released {} prefetched task(s) that had not started", prefetched);
  }
}

void TaskReleaser::release_unfinished(db::Connection& connection) {
  Fences back;
  for (const auto& held : m_in_flight.snapshot()) {
    if (held.attempt->finished.load()) {
      continue;
    }
    held.attempt->stop.store(true);
    back.add(held.id, held.attempt->claim);
  }
  if (back.ids.empty()) {
    return;
  }
  const db::Result released =
      connection.run(db::queries::k_release, {back.id_array(), back.claim_array()});
  for (std::size_t i = 0; i < back.ids.size(); ++i) {
    m_in_flight.erase(back.ids[i], back.claims[i]);
  }
  logger()->warn("released {} unfinished task(s) back to the queue", released.text(0, 0));
}

} // namespace pgtq::queue
