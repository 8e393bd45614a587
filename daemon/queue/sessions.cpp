#include "queue/sessions.hpp"

#include "queue/queue_logger.hpp"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <chrono>

namespace pgtq::queue {

namespace {

using std::chrono::milliseconds;

milliseconds whole_ms(Duration duration, milliseconds low, milliseconds high) {
  return std::clamp(std::chrono::duration_cast<milliseconds>(duration), low, high);
}

} // namespace

db::SessionSettings work_session(Duration heartbeat) {
  db::SessionSettings settings;
  settings.read_committed = true;
  settings.lock_timeout = whole_ms(heartbeat / 2, milliseconds(100), milliseconds(1000));
  return settings;
}

db::SessionSettings claim_session(Duration heartbeat) {
  db::SessionSettings settings = work_session(heartbeat);
  settings.asynchronous_commit = true;
  return settings;
}

db::SessionSettings lease_session(Duration heartbeat) {
  db::SessionSettings settings = work_session(heartbeat);
  settings.statement_timeout = whole_ms(heartbeat, milliseconds(1000), milliseconds(3600 * 1000));
  return settings;
}

db::SessionSettings scheduler_session() {
  db::SessionSettings settings;
  settings.read_committed = true;
  settings.lock_timeout = milliseconds(1000);
  return settings;
}

void warn_if_startup_options_refused(const db::Connection& connection) {
  if (!connection.startup_options_refused()) {
    return;
  }
  logger()->warn("the server or pooler refused startup options: sessions run at the database's "
                 "default isolation level; make it READ COMMITTED for pgtqd's role (ALTER ROLE … "
                 "SET default_transaction_isolation = 'read committed')");
}

std::string application_name(const ConnectionSettings& connection, std::string_view role) {
  std::string name = "pgtqd:" + connection.queue + ":";
  name += role;
  if (!connection.worker_name.empty()) {
    name += ":" + connection.worker_name;
  }
  return db::bounded_application_name(name);
}

} // namespace pgtq::queue
