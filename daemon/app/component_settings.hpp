#pragma once

#include "app/config.hpp"
#include "plugin/handler_registry.hpp"
#include "queue/settings.hpp"

namespace pgtq::app {

// The Config cut into what each component is told (queue/settings.hpp): only app/ knows
// the whole Config; the components get the few settings they use.
queue::ConnectionSettings connection_settings(const Config& config);
queue::ClaimLoopSettings claim_loop_settings(const Config& config);
queue::SchedulerSettings scheduler_settings(const Config& config);
// The retry delays plugins start from (their handlers may set their own), in the plugin
// interface's seconds.
plugin::BackoffPolicy backoff_policy(const Config& config);

} // namespace pgtq::app
