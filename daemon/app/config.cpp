#include "app/config.hpp"

#include "db/connection.hpp"

namespace pgtq::app {

void Config::validate() const {
  if (!db::is_parsable_conninfo(dsn)) {
    throw ConfigError("dsn is neither key=value pairs nor a postgresql:// URI that libpq can "
                      "parse (the text is not shown: it may hold a password)");
  }
  if (!plugin::is_valid_name(queue)) {
    throw ConfigError("queue \"" + queue + "\" must be 1-128 characters from [A-Za-z0-9_.:-]");
  }
  if (concurrency < 1 || concurrency > 1024) {
    throw ConfigError("concurrency must be between 1 and 1024");
  }
  if (prefetch < 0 || prefetch > 10000) {
    throw ConfigError("prefetch must be between 0 and 10000");
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

} // namespace pgtq::app
