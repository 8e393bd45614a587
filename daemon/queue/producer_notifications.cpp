// Producer: what arrives on the LISTEN connection (wake-ups, cancellations), and giving back
// the tasks stopped before they started.
#include "queue/producer.hpp"

#include "db/queries.hpp"
#include "queue/fences.hpp"

#include <spdlog/spdlog.h>

#include <charconv>

namespace pgtq::queue {
namespace {

std::shared_ptr<spdlog::logger> logger() {
  auto found = spdlog::get("queue");
  return found ? found : spdlog::default_logger();
}

// A task id as pgtq.cancel() sends it: decimal digits only, positive, fits a bigint. Anyone
// with CONNECT may NOTIFY this channel, so anything else is ignored.
std::optional<std::int64_t> task_id_of(const std::string& payload) {
  if (payload.empty() || payload.size() > 19) {
    return std::nullopt;
  }
  std::int64_t id = 0;
  const auto [end, error] = std::from_chars(payload.data(), payload.data() + payload.size(), id);
  if (error != std::errc() || end != payload.data() + payload.size() || id <= 0) {
    return std::nullopt;
  }
  return id;
}

} // namespace

void Producer::take_notifications(bool read_socket) {
  for (const db::Notification& note : m_connection->take_notifications(read_socket)) {
    if (note.channel == "pgtq_wakeup") {
      // Coalesced: after a claim that found nothing, turn() waits k_min_wakeup_gap.
      if (note.payload == m_config.queue) {
        m_notified = true;
      }
    } else if (note.channel == "pgtq_cancel") {
      if (const auto id = task_id_of(note.payload)) {
        cancel_requested(*id);
      }
    }
  }
}

void Producer::cancel_requested(std::int64_t id) {
  const auto attempt = m_in_flight.find(id);
  if (!attempt) {
    return; // another daemon's task, or one that ended meanwhile
  }
  attempt->cancelled = true;
  if (!attempt->stop.exchange(true)) {
    logger()->info("task {}: cancellation requested; asking its handler to stop", id);
  }
  // Prefetched and not started: give it back now (pgtq.release ends it cancelled).
  if (auto task = m_pool->take_unstarted(id)) {
    note_not_started(std::move(*task));
  }
}

void Producer::release_not_started() {
  std::vector<ClaimedTask> tasks;
  {
    const std::lock_guard lock(m_outcomes_mutex);
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
    m_connection->run(db::queries::k_release, {back.id_array(), back.claim_array()});
  } catch (...) {
    const std::lock_guard lock(m_outcomes_mutex);
    m_not_started.insert(m_not_started.end(), tasks.begin(), tasks.end());
    throw;
  }
  int prefetched = 0;
  for (const ClaimedTask& task : tasks) {
    const auto attempt = m_in_flight.find(task.id);
    const bool cancelled = attempt && attempt->claim == task.claim && attempt->cancelled.load();
    m_in_flight.erase(task.id, task.claim);
    if (!cancelled && m_draining) {
      ++prefetched; // taken back from the pool when draining started
      continue;
    }
    logger()->info("task {} ({}) {} before it started; not run", task.id, task.name,
                   cancelled ? "cancelled" : "lost its lease");
  }
  if (prefetched > 0) {
    logger()->info("released {} prefetched task(s) that had not started", prefetched);
  }
}

} // namespace pgtq::queue
