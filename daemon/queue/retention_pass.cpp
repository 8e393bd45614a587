#include "queue/retention_pass.hpp"

#include "db/pg_error.hpp"
#include "db/queries.hpp"
#include "queue/queue_logger.hpp"

#include <spdlog/spdlog.h>

#include <string>

namespace pgtq::queue {

void RetentionPass::run_if_due(db::Connection& connection) {
  const auto now = Clock::now();
  if (now < m_next) {
    return;
  }
  m_next = now + k_every;
  std::int64_t removed = 0;
  try {
    removed = connection.run(db::queries::k_apply_retention, {std::to_string(k_batch)}).int64(0, 0);
  } catch (const db::PgError& error) {
    if (error.is_connection_error()) {
      throw;
    }
    // Say, a role without the right to delete from the history: the scheduler's other work
    // matters more, and the operator hears of it once, not every 10 s.
    if (!m_failing) {
      scheduler_logger()->warn("retention could not be applied: {}; trying again every {} s",
                               error.what(),
                               k_every.count());
      m_failing = true;
    }
    return;
  }
  if (m_failing) {
    scheduler_logger()->info("retention applied again");
    m_failing = false;
  }
  if (removed > 0) {
    scheduler_logger()->info("retention: deleted {} finished task(s) past their retention",
                             removed);
  }
  if (removed >= k_batch) {
    m_next = now; // a backlog: another batch at the next tick
  }
}

} // namespace pgtq::queue
