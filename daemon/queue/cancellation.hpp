#pragma once

#include "db/connection.hpp"
#include "queue/in_flight.hpp"
#include "queue/task.hpp"
#include "queue/worker_pool.hpp"

#include <optional>

namespace pgtq::queue {

// A pgtq_cancel notification (pgtq.cancel() of a running task), heard by the claim loop: the
// attempt's stop flag goes up at once, not at its next heartbeat. Returns the task if it was
// prefetched and no worker started it: the caller releases it (pgtq.release ends it
// cancelled). Anyone with CONNECT may NOTIFY the channel, so a payload that is not a task id
// (decimal digits, positive, a bigint), or the id of a task this daemon does not hold, is
// ignored. The claim loop's thread.
std::optional<ClaimedTask>
cancel_requested(const db::Notification& note, InFlightTasks& in_flight, WorkerPool& pool);

} // namespace pgtq::queue
