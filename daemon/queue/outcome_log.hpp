#pragma once

#include "queue/task.hpp"

namespace pgtq::queue {

// The log line for an outcome once it is recorded; cancelled: a cancellation was asked for
// while the attempt ran.
void log_recorded(const Outcome& outcome, bool cancelled);

} // namespace pgtq::queue
