#include "app/config.hpp"

#include <algorithm>

namespace pgtq::app {

void Config::validate() const {
  if (!plugin::is_valid_name(queue)) {
    throw ConfigError("queue \"" + queue + "\" must be 1-128 characters from [A-Za-z0-9_.:-]");
  }
  if (concurrency < 1 || concurrency > 1024) {
    throw ConfigError("concurrency must be between 1 and 1024");
  }
  if (claim_loops < 0 || claim_loops > concurrency) {
    throw ConfigError("claim-loops must be between 0 (automatic) and concurrency");
  }
  if (lease.count() < 1) {
    throw ConfigError("lease must be at least 1 second");
  }
  if (heartbeat.count() <= 0 || heartbeat.count() * 2 > lease.count()) {
    throw ConfigError("heartbeat must be positive and at most half the lease, so that one "
                      "late heartbeat does not lose it");
  }
  if (poll_interval.count() <= 0) {
    throw ConfigError("poll-interval must be positive");
  }
  if (shutdown_grace.count() < 0) {
    throw ConfigError("shutdown-grace must not be negative");
  }
  if (scheduler_interval.count() <= 0) {
    throw ConfigError("scheduler-interval must be positive");
  }
  if (backoff.base_s <= 0 || backoff.factor < 1 || backoff.cap_s < backoff.base_s) {
    throw ConfigError("backoff needs base > 0, factor >= 1 and cap >= base");
  }
  if (log_level != "trace" && log_level != "debug" && log_level != "info" && log_level != "warn" &&
      log_level != "error") {
    throw ConfigError("log-level must be one of trace, debug, info, warn, error");
  }
}

int Config::effective_claim_loops() const {
  // One backend runs one statement at a time; a loop per 16 workers lets a busy daemon
  // keep several database cores working. More than 4 mostly contend on the queue's head.
  return claim_loops > 0 ? claim_loops : std::clamp(concurrency / 16, 1, 4);
}

} // namespace pgtq::app
