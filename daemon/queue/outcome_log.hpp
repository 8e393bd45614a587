#pragma once

#include "queue/queue_metrics.hpp"
#include "queue/task.hpp"

namespace pgtq::queue {

// The log line for an outcome once it is recorded; cancelled: a cancellation was asked for
// while the attempt ran.
void log_recorded(const Outcome& outcome, bool cancelled);
// What pgtq.finish_many made of a recorded outcome, as the metrics count it.
QueueMetrics::Ending ending_of(const Outcome& outcome, bool cancelled);

} // namespace pgtq::queue
