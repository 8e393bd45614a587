#pragma once

#include "plugin/handler_registry.hpp"

namespace pgtq::queue {

// Seconds to wait before attempt `attempt + 1`, after attempt `attempt` (1-based) failed:
// base * factor^(attempt-1), capped at cap, scaled by jitter in [0.8, 1.2) from jitter01 in
// [0, 1) so that tasks failing together do not come back together.
double backoff_seconds(const plugin::BackoffPolicy& policy, int attempt, double jitter01);

// The same, with jitter from a thread-local random generator.
double backoff_seconds(const plugin::BackoffPolicy& policy, int attempt);

} // namespace pgtq::queue
