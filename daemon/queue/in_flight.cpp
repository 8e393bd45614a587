#include "queue/in_flight.hpp"

#include <algorithm>

namespace pgtq::queue {

std::shared_ptr<Attempt>
InFlightTasks::add(std::int64_t id, std::int64_t claim, Clock::time_point lease_until) {
  auto attempt = std::make_shared<Attempt>(claim, m_report_signal);
  const std::lock_guard lock(m_mutex);
  m_tasks[id] = Entry{attempt, lease_until};
  return attempt;
}

std::shared_ptr<Attempt> InFlightTasks::find(std::int64_t id) const {
  const std::lock_guard lock(m_mutex);
  const auto found = m_tasks.find(id);
  return found == m_tasks.end() ? nullptr : found->second.attempt;
}

std::shared_ptr<Attempt> InFlightTasks::find(std::int64_t id, std::int64_t claim) const {
  const std::lock_guard lock(m_mutex);
  const auto found = m_tasks.find(id);
  return found == m_tasks.end() || found->second.attempt->claim != claim ? nullptr
                                                                         : found->second.attempt;
}

void InFlightTasks::erase(std::int64_t id, std::int64_t claim) {
  const std::lock_guard lock(m_mutex);
  const auto found = m_tasks.find(id);
  if (found != m_tasks.end() && found->second.attempt->claim == claim) {
    m_tasks.erase(found);
  }
}

void InFlightTasks::clear() {
  const std::lock_guard lock(m_mutex);
  m_tasks.clear();
}

std::size_t InFlightTasks::size() const {
  const std::lock_guard lock(m_mutex);
  return m_tasks.size();
}

std::vector<InFlightTasks::Held> InFlightTasks::snapshot() const {
  std::vector<Held> held;
  const std::lock_guard lock(m_mutex);
  held.reserve(m_tasks.size());
  for (const auto& [id, entry] : m_tasks) {
    held.push_back({id, entry.attempt});
  }
  return held;
}

void InFlightTasks::renewed(std::int64_t id, std::int64_t claim, Clock::time_point lease_until) {
  const std::lock_guard lock(m_mutex);
  const auto found = m_tasks.find(id);
  if (found != m_tasks.end() && found->second.attempt->claim == claim &&
      lease_until > found->second.lease_until) {
    found->second.lease_until = lease_until;
  }
}

std::vector<std::int64_t> InFlightTasks::stop_expired(Clock::time_point now) {
  std::vector<std::int64_t> stopped;
  const std::lock_guard lock(m_mutex);
  for (const auto& [id, entry] : m_tasks) {
    if (now < expiry(entry) || entry.attempt->finished.load() || entry.attempt->stop.load()) {
      continue;
    }
    if (now < entry.lease_until) {
      entry.attempt->fenced = true; // the fence, not the lease: before stop, which the worker reads
    }
    if (!entry.attempt->stop.exchange(true)) {
      stopped.push_back(id);
    }
  }
  return stopped;
}

std::optional<InFlightTasks::Clock::time_point> InFlightTasks::next_expiry() const {
  std::optional<Clock::time_point> next;
  const std::lock_guard lock(m_mutex);
  for (const auto& [id, entry] : m_tasks) {
    if (!entry.attempt->stop.load() && !entry.attempt->finished.load() &&
        (!next || expiry(entry) < *next)) {
      next = expiry(entry);
    }
  }
  return next;
}

void InFlightTasks::fence(std::optional<Clock::time_point> until) {
  const std::lock_guard lock(m_mutex);
  m_fence = until;
}

bool InFlightTasks::fence_passed(Clock::time_point now) const {
  const std::lock_guard lock(m_mutex);
  return m_fence && now >= *m_fence;
}

InFlightTasks::Clock::time_point InFlightTasks::expiry(const Entry& entry) const {
  return m_fence ? std::min(entry.lease_until, *m_fence) : entry.lease_until;
}

} // namespace pgtq::queue
