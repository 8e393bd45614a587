#include "queue/shared_workers.hpp"

#include <algorithm>
#include <cstdint>
#include <stdexcept>

namespace pgtq::queue {

SharedWorkers::SharedWorkers(int capacity, std::vector<int> weights)
    : m_capacity(capacity), m_weights(std::move(weights)), m_members(m_weights.size()) {
  if (capacity < 1 || m_weights.empty() ||
      std::any_of(m_weights.begin(), m_weights.end(), [](int w) { return w < 1; })) {
    throw std::invalid_argument("SharedWorkers: a capacity and weights of at least 1");
  }
}

void SharedWorkers::set_waker(int member, std::function<void()> waker) {
  const std::lock_guard lock(m_mutex);
  m_members[static_cast<std::size_t>(member)].waker = std::move(waker);
}

int SharedWorkers::room(int member, int held, int wanted) const {
  const std::lock_guard lock(m_mutex);
  return room_locked(member, held, wanted);
}

int SharedWorkers::reserve(int member, int held, int wanted) {
  int granted = 0;
  bool wake = false;
  {
    const std::lock_guard lock(m_mutex);
    granted = room_locked(member, held, wanted);
    wake = store_locked(member, held + granted, wanted > 0);
  }
  if (wake) {
    wake_others(member);
  }
  return granted;
}

void SharedWorkers::update(int member, int held, bool wanting) {
  bool wake = false;
  {
    const std::lock_guard lock(m_mutex);
    wake = store_locked(member, held, wanting);
  }
  if (wake) {
    wake_others(member);
  }
}

int SharedWorkers::held(int member) const {
  const std::lock_guard lock(m_mutex);
  return m_members[static_cast<std::size_t>(member)].held;
}

int SharedWorkers::room_locked(int member, int held, int wanted) const {
  // The members with work (this one counts as one) and what they hold.
  std::vector<std::size_t> working;
  std::vector<int> holds;
  int total_held = 0;
  for (std::size_t each = 0; each < m_members.size(); ++each) {
    const bool self = static_cast<int>(each) == member;
    const int holding = self ? held : m_members[each].held;
    total_held += holding;
    if (self || m_members[each].wanting) {
      working.push_back(each);
      holds.push_back(holding);
    }
  }
  // Their shares of the capacity by weight, in whole workers that add up to it: each the
  // whole part of its exact share, and what is left over (fewer than there are members) one
  // each to the heaviest, so that 1000 : 1 of up to 1000 workers is all : 0, a strict
  // priority (to the largest fractions, 600 workers would split 599 : 1).
  std::int64_t weights = 0;
  for (const std::size_t each : working) {
    weights += m_weights[each];
  }
  std::vector<int> shares(working.size());
  int left = m_capacity;
  for (std::size_t i = 0; i < working.size(); ++i) {
    shares[i] = static_cast<int>(std::int64_t{m_capacity} * m_weights[working[i]] / weights);
    left -= shares[i];
  }
  std::vector<std::size_t> heaviest(working.size());
  for (std::size_t i = 0; i < heaviest.size(); ++i) {
    heaviest[i] = i;
  }
  std::stable_sort(heaviest.begin(), heaviest.end(), [&](std::size_t x, std::size_t y) {
    return m_weights[working[x]] > m_weights[working[y]];
  });
  for (std::size_t i = 0; left > 0; ++i, --left) {
    ++shares[heaviest[i]];
  }
  int own = 0;
  int owed_to_others = 0;
  for (std::size_t i = 0; i < working.size(); ++i) {
    const int owed = std::max(shares[i] - holds[i], 0);
    if (static_cast<int>(working[i]) == member) {
      own = owed;
    } else {
      owed_to_others += owed;
    }
  }
  const int free = m_capacity - total_held;
  return std::max(std::min({wanted, free, std::max(own, free - owed_to_others)}), 0);
}

bool SharedWorkers::store_locked(int member, int held, bool wanting) {
  Member& state = m_members[static_cast<std::size_t>(member)];
  const bool leaves_room = held < state.held || (state.wanting && !wanting);
  state.held = held;
  state.wanting = wanting;
  return leaves_room;
}

void SharedWorkers::wake_others(int except) {
  std::vector<std::function<void()>> wakers;
  {
    const std::lock_guard lock(m_mutex);
    for (std::size_t other = 0; other < m_members.size(); ++other) {
      if (static_cast<int>(other) != except && m_members[other].wanting && m_members[other].waker) {
        wakers.push_back(m_members[other].waker);
      }
    }
  }
  for (const auto& waker : wakers) {
    waker();
  }
}

} // namespace pgtq::queue
