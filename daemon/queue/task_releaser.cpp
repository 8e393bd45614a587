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

bool TaskReleaser::has_pending() {
  const std::lock_guard lock(m_mutex);
  return !m_not_started.empty() || !m_given_back.empty();
}

void TaskReleaser::add_given_back(std::vector<ClaimedTask>&& tasks) {
  // Stopped: a heartbeat that finds one released before its entry is erased treats it as
  // given up on purpose, not as a lease lost to a rescue.
  for (const ClaimedTask& task : tasks) {
    if (const auto attempt = m_in_flight.find(task.id, task.claim)) {
      attempt->stop.store(true);
    }
  }
  const std::lock_guard lock(m_mutex);
  m_given_back.insert(m_given_back.end(),
                      std::make_move_iterator(tasks.begin()),
                      std::make_move_iterator(tasks.end()));
}

void TaskReleaser::release_not_started(db::Connection& connection, bool draining) {
  std::vector<ClaimedTask> tasks;
  std::vector<ClaimedTask> given_back;
  {
    const std::lock_guard lock(m_mutex);
    tasks.swap(m_not_started);
    given_back.swap(m_given_back);
  }
  if (tasks.empty() && given_back.empty()) {
    return;
  }
  Fences back;
  for (const auto* list : {&tasks, &given_back}) {
    for (const ClaimedTask& task : *list) {
      back.add(task.id, task.claim);
    }
  }
  try {
    connection.run(db::queries::k_release, {back.id_array(), back.claim_array()});
  } catch (...) {
    // Kept for the next turn; the error goes on to the claim loop.
    const std::lock_guard lock(m_mutex);
    m_not_started.insert(m_not_started.end(), tasks.begin(), tasks.end());
    m_given_back.insert(m_given_back.end(), given_back.begin(), given_back.end());
    throw;
  }
  int prefetched = 0;
  int unfinished = 0;
  int returned = 0;
  for (const auto* list : {&tasks, &given_back}) {
    const bool given = list == &given_back;
    for (const ClaimedTask& task : *list) {
      const auto attempt = m_in_flight.find(task.id, task.claim);
      const bool cancelled = attempt && attempt->cancelled.load();
      const bool stopped = attempt && attempt->stop.load();
      m_in_flight.erase(task.id, task.claim);
      if (!cancelled && (given || draining)) {
        // Given back while running (attempts turned slow); or, draining, stopped at the end
        // of the grace period (its worker gave it back), or taken back from the pool when
        // draining started.
        ++(given ? returned : attempt && attempt->shutting_down.load() ? unfinished : prefetched);
        continue;
      }
      if (cancelled) {
        logger()->info("task {} ({}) cancelled before it started; not run", task.id, task.name);
      } else if (stopped) {
        logger()->info(
            "task {} ({}) lost its lease before it finished; given back", task.id, task.name);
      } else {
        logger()->info(
            "task {} ({}) given back to the queue: no worker could run it", task.id, task.name);
      }
    }
  }
  if (returned > 0) {
    logger()->info("gave back {} prefetched task(s) to the queue: its recent attempts ran too "
                   "long to hold them",
                   returned);
  }
  if (prefetched > 0) {
    logger()->info("released {} prefetched task(s) that had not started", prefetched);
  }
  if (unfinished > 0) {
    logger()->warn("released {} unfinished task(s) back to the queue once their handlers "
                   "stopped",
                   unfinished);
  }
}

void TaskReleaser::stop_unfinished() {
  for (const auto& held : m_in_flight.snapshot()) {
    if (!held.attempt->finished.load()) {
      held.attempt->shutting_down.store(true);
      held.attempt->stop.store(true);
    }
  }
}

void TaskReleaser::release_unfinished(db::Connection& connection) {
  Fences back;
  for (const auto& held : m_in_flight.snapshot()) {
    if (held.attempt->finished.load()) {
      continue;
    }
    held.attempt->shutting_down.store(true);
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
