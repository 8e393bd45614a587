#pragma once

#include "db/connection.hpp"

#include <chrono>
#include <cstdint>

namespace pgtq::queue {

// Applies the retention rules (pgtq.retention, sql/schema/15_retention.sql) for the
// scheduler: pgtq.apply_retention every k_every, and again at the scheduler's next tick while
// a call removes a full batch, so that a backlog goes in bounded batches that never hold the
// history's locks for long. Any number of daemons may run one: the function lets one of them
// work at a time.
//
// Threads: the scheduler's only.
class RetentionPass {
public:
  using Clock = std::chrono::steady_clock;

  // Between calls that found less than a full batch.
  static constexpr std::chrono::seconds k_every{10};
  // Finished tasks one call removes at most.
  static constexpr int k_batch = 10000;

  // Calls pgtq.apply_retention on connection if one is due. Connection errors propagate (the
  // scheduler reconnects); any other error is logged, once until a call succeeds again, and
  // the next call comes k_every later.
  void run_if_due(db::Connection& connection);

private:
  Clock::time_point m_next{}; // due at once: the first tick applies the rules
  bool m_failing = false;     // warned of the last failure
};

} // namespace pgtq::queue
