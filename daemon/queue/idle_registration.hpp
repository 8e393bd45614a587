#pragma once

#include "db/connection.hpp"

#include <chrono>
#include <optional>
#include <string>

namespace pgtq::queue {

// Whether pushes to the claim loop's queue must NOTIFY it (sql/schema/09_wake_ups.sql): a
// push notifies only while a claim loop of its queue is registered in pgtq.idle_workers.
// The loop registers when a claim comes back short, before it sleeps, and may rely on
// notifications only once every push that may have looked before the registration has ended
// and it has claimed once more; it leaves after claiming full batches for k_busy_after, so
// that a busy queue's pushes notify nobody, and when it drains. At each poll it registers
// again: a registration removed behind its back (an operator's DELETE) costs at most one
// poll interval.
//
// Threads: the claim loop's thread only; every query runs on the loop's connection, which
// must LISTEN on pgtq_wakeup before the first update().
class IdleRegistration {
public:
  using Clock = std::chrono::steady_clock;
  // Full claims for this long before leaving: a loop that is busy for a moment stays, so that
  // it does not register and leave at every other claim.
  static constexpr Clock::duration k_busy_after = std::chrono::milliseconds(100);
  // While pushes that may have missed the registration are in flight, they are looked at
  // again after 1 ms, then twice as long each time: up to 100 ms for the first second, then
  // up to the poll interval (a long transaction that pushed and has not committed).
  static constexpr Clock::duration k_max_check_delay = std::chrono::milliseconds(100);
  static constexpr Clock::duration k_patient_after = std::chrono::seconds(1);

  // enabled false: never registers (notifications cannot arrive, e.g. behind a transaction
  // pooler), so pushes to the queue do not notify for this loop.
  IdleRegistration(std::string queue,
                   std::string worker,
                   Clock::duration poll_interval,
                   bool enabled)
      : m_queue(std::move(queue)), m_worker(std::move(worker)), m_poll_interval(poll_interval),
        m_enabled(enabled) {}

  // A new session: what the old one registered went with it.
  void reset();
  // What the loop's last claim found: a full batch (more may wait) or not.
  void on_claim(bool full, Clock::time_point now);
  // The poll timer ran out: the next update() registers again, and settles again if the
  // registration was gone.
  void on_poll();
  // Registers, settles or leaves, as the loop's state asks: idle means it sleeps until a
  // notification unless told otherwise. Returns true when pushes that may have missed the
  // registration have ended since it was made or last looked at (all of them: it has
  // settled): the loop must claim once more before it sleeps. Throws db::PgError.
  bool update(db::Connection& connection, bool idle, Clock::time_point now);
  // Leaves at once (a drain). Throws db::PgError.
  void leave(db::Connection& connection);
  // While settling: when update() should look at the pushes in flight again.
  std::optional<Clock::time_point> next_check() const;

private:
  enum class State { unregistered, settling, settled };

  // Reads which of the pushes in flight (all: the first time) still are; true when none.
  bool pushes_ended(db::Connection& connection, bool first);

  const std::string m_queue;
  const std::string m_worker;
  const Clock::duration m_poll_interval;
  const bool m_enabled;
  State m_state = State::unregistered;
  bool m_recheck = false;  // settled, and the poll timer asked to register again
  std::string m_in_flight; // text[] literal: pushes that may have missed the registration
  Clock::time_point m_settling_since;
  Clock::time_point m_next_check;
  Clock::duration m_check_delay{};
  std::optional<Clock::time_point> m_full_since; // claims have been full since then
};

} // namespace pgtq::queue
