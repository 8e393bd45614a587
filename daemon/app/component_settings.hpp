#pragma once

#include "app/config.hpp"
#include "app/queue_list.hpp"
#include "plugin/handler_registry.hpp"
#include "queue/settings.hpp"

namespace pgtq::app {

// The Config cut into what each component is told (queue/settings.hpp): only app/ knows
// the whole Config; the components get the few settings they use.
// Sessions that serve the whole daemon (migrations, the scheduler) name its first queue in
// their application_name, and how many more it serves: "emails+2".
queue::ConnectionSettings connection_settings(const Config& config);
// The claim loop of one of the queue option's queues, with the workers the entry gives it.
queue::ClaimLoopSettings claim_loop_settings(const Config& config, const QueueEntry& queue);
queue::SchedulerSettings scheduler_settings(const Config& config);
// The retry delays plugins start from (their handlers may set their own), in the plugin
// interface's seconds.
plugin::BackoffPolicy backoff_policy(const Config& config);

} // namespace pgtq::app
