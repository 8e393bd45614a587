#include "queue/sessions.hpp"

#include <algorithm>
#include <chrono>

namespace pgtq::queue {
namespace {

using std::chrono::milliseconds;

milliseconds whole_ms(app::Seconds seconds, milliseconds low, milliseconds high) {
  // Clamped as doubles first: the configured value may be far beyond what milliseconds hold.
  const double ms = std::clamp(seconds.count() * 1000.0, static_cast<double>(low.count()),
                               static_cast<double>(high.count()));
  return milliseconds(static_cast<long long>(ms));
}

} // namespace

db::SessionSettings work_session(const app::Config& config) {
  db::SessionSettings settings;
  settings.read_committed = true;
  settings.lock_timeout = whole_ms(config.heartbeat / 2, milliseconds(100), milliseconds(1000));
  return settings;
}

db::SessionSettings lease_session(const app::Config& config) {
  db::SessionSettings settings = work_session(config);
  settings.statement_timeout =
      whole_ms(config.heartbeat, milliseconds(1000), milliseconds(3600 * 1000));
  return settings;
}

db::SessionSettings scheduler_session(const app::Config&) {
  db::SessionSettings settings;
  settings.read_committed = true;
  return settings;
}

std::string application_name(const app::Config& config, std::string_view role) {
  std::string name = "pgtqd:" + config.queue + ":";
  name += role;
  if (!config.worker_name.empty()) {
    name += ":" + config.worker_name;
  }
  return db::bounded_application_name(name);
}

} // namespace pgtq::queue
