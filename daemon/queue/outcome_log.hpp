#pragma once

#include "queue/queue_metrics.hpp"
#include "queue/task.hpp"

namespace pgtq::queue {

// What pgtq.finish_many made of a recorded outcome (cancelled: a cancellation was asked for
// while the attempt ran), as the log and the metrics tell it.
Ending ending_of(const Outcome& outcome, bool cancelled);
// The log line for an outcome once it is recorded as ending.
void log_recorded(const Outcome& outcome, Ending ending, bool cancelled);

} // namespace pgtq::queue
