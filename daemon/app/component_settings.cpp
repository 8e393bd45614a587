#include "app/component_settings.hpp"

namespace pgtq::app {

queue::ConnectionSettings connection_settings(const Config& config) {
  queue::ConnectionSettings connection;
  connection.dsn = config.dsn;
  connection.queue = config.queue;
  connection.worker_name = config.worker_name;
  connection.prepared_statements = config.prepared_statements;
  return connection;
}

queue::ProducerSettings producer_settings(const Config& config) {
  queue::ProducerSettings producer;
  static_cast<queue::ConnectionSettings&>(producer) = connection_settings(config);
  producer.lease = config.lease;
  producer.heartbeat = config.heartbeat;
  producer.concurrency = config.concurrency;
  producer.prefetch = config.prefetch;
  producer.poll_interval = config.poll_interval;
  producer.shutdown_grace = config.shutdown_grace;
  return producer;
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
