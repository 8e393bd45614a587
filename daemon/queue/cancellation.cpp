#include "queue/cancellation.hpp"

#include "queue/queue_logger.hpp"

#include <spdlog/spdlog.h>

#include <charconv>

namespace pgtq::queue {

namespace {

// A task id as pgtq.cancel() sends it, or nothing.
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

std::optional<ClaimedTask> cancel_requested(const db::Notification& note,
                                            InFlightTasks& in_flight,
                                            WorkerPool& pool,
                                            LeaseKeeper& leases) {
  if (note.channel != "pgtq_cancel") {
    return std::nullopt;
  }
  const auto id = task_id_of(note.payload);
  if (!id) {
    return std::nullopt;
  }
  const auto attempt = in_flight.find(*id);
  if (!attempt) {
    return std::nullopt; // another daemon's task, or one that ended meanwhile
  }
  // Prefetched and not started: given back now; pgtq.release knows whether it was cancelled.
  if (auto task = pool.take_unstarted(*id)) {
    attempt->cancelled = true;
    attempt->stop = true;
    return task;
  }
  // Started: the heartbeat's answer says whether the cancellation is real.
  SPDLOG_LOGGER_DEBUG(logger(), "task {}: cancellation notified; asking the database", *id);
  leases.renew_soon();
  return std::nullopt;
}

} // namespace pgtq::queue
