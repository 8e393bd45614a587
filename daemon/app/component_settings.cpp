#include "app/component_settings.hpp"

#include "app/host_name.hpp"

#include <build_config.hpp>

namespace pgtq::app {

queue::ConnectionSettings connection_settings(const Config& config) {
  queue::ConnectionSettings connection;
  connection.dsn = config.dsn;
  const std::vector<QueueEntry> queues = parse_queue_list(config.queue);
  connection.queue = queues.front().name;
  if (queues.size() > 1) {
    connection.queue += "+" + std::to_string(queues.size() - 1);
  }
  connection.worker_name = config.worker_name;
  connection.prepared_statements = config.prepared_statements;
  return connection;
}

queue::ClaimLoopSettings claim_loop_settings(const Config& config, const QueueEntry& queue) {
  queue::ClaimLoopSettings claim_loop;
  static_cast<queue::ConnectionSettings&>(claim_loop) = connection_settings(config);
  claim_loop.queue = queue.name;
  const int concurrency = queue.concurrency.value_or(config.concurrency);
  claim_loop.lease = config.lease;
  claim_loop.heartbeat = config.heartbeat;
  claim_loop.session_grace = config.session_grace;
  claim_loop.identity = {.version = build::k_version,
                         .host = host_name(),
                         .concurrency = concurrency,
                         .processes = config.isolation == "process"};
  claim_loop.concurrency = concurrency;
  if (queue.shared) {
    // A task claimed ahead would hold a shared worker that another queue may be owed.
    claim_loop.prefetch = 0;
  } else if (config.prefetch != "auto") {
    claim_loop.prefetch = std::stoi(config.prefetch); // digits in 0..10000: checked
  }
  claim_loop.poll_interval = config.poll_interval;
  claim_loop.shutdown_grace = config.shutdown_grace;
  claim_loop.isolation.processes = config.isolation == "process";
  claim_loop.isolation.task_timeout = config.task_timeout;
  claim_loop.isolation.timeout_grace = config.timeout_grace;
  queue::WorkerProcessSettings& worker = claim_loop.isolation.worker;
  worker.log_level = config.log_level;
  worker.plugin_config_dir = config.plugin_config_dir;
  worker.default_backoff = backoff_policy(config);
  worker.memory_limit_bytes = static_cast<std::int64_t>(config.worker_memory_limit) << 20;
  return claim_loop;
}

queue::SchedulerSettings scheduler_settings(const Config& config) {
  queue::SchedulerSettings scheduler;
  static_cast<queue::ConnectionSettings&>(scheduler) = connection_settings(config);
  scheduler.interval = config.scheduler_interval;
  return scheduler;
}

plugin::BackoffPolicy backoff_policy(const Config& config) {
  using Seconds = std::chrono::duration<double>;
  return {.base_s = Seconds(config.backoff_base).count(),
          .factor = config.backoff_factor,
          .cap_s = Seconds(config.backoff_cap).count()};
}

} // namespace pgtq::app
