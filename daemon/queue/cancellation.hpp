#pragma once

#include "db/connection.hpp"
#include "queue/in_flight.hpp"
#include "queue/lease_keeper.hpp"
#include "queue/task.hpp"
#include "queue/worker_pool.hpp"

#include <optional>

namespace pgtq::queue {

// A pgtq_cancel notification (pgtq.cancel() of a running task), heard by the claim loop.
// Anyone with CONNECT may NOTIFY the channel, so nothing is stopped on its word alone:
//   - a payload that is not a task id (decimal digits, positive, a bigint), or the id of a task
//     this daemon does not hold, is ignored;
//   - a task prefetched and not started is returned: the caller releases it, and
//     pgtq.release ends it cancelled if its cancellation was requested, or queues it again
//     with its attempt given back if not;
//   - for a started attempt the lease keeper is asked to renew at once: the database's
//     answer, cancel, stops the handler (lease_keeper.cpp), a few milliseconds later.
// The claim loop's thread.
std::optional<ClaimedTask> cancel_requested(const db::Notification& note,
                                            InFlightTasks& in_flight,
                                            WorkerPool& pool,
                                            LeaseKeeper& leases);

} // namespace pgtq::queue
