#include "queue/scheduler.hpp"

#include "db/pg_error.hpp"
#include "db/queries.hpp"
#include "queue/backoff.hpp"
#include "queue/queue_logger.hpp"
#include "queue/sessions.hpp"

#include <pgtq/client/pg_array.hpp>

#include <spdlog/spdlog.h>

#include <algorithm>
#include <string>
#include <vector>

namespace pgtq::queue {
namespace {

// How many rows one tick moves at most; a backlog is worked off over consecutive ticks.
constexpr int k_tick_batch = 10000;

// register_sleep() looks at the delayed pushes in flight after 1 ms, then twice as long each
// time: up to 100 ms for the first second, then up to a second.
constexpr std::chrono::milliseconds k_patience{1000};

// Ticks that are not due by the clock come at least this long after the last one.
std::chrono::steady_clock::duration min_gap(const SchedulerSettings& config) {
  return std::max<std::chrono::steady_clock::duration>(
      std::chrono::steady_clock::duration(config.interval / 10), std::chrono::milliseconds(50));
}

// The elements of a text[] literal of pg_locks virtualtransaction ids ("{3/12,4/7}"):
// digits and a slash, never quoted.
std::vector<std::string> text_array_items(const std::string& literal) {
  std::vector<std::string> items;
  std::string item;
  for (const char c : literal) {
    if (c == ',' || c == '}') {
      if (!item.empty()) {
        items.push_back(item);
      }
      item.clear();
    } else if (c != '{') {
      item += c;
    }
  }
  return items;
}

} // namespace

Scheduler::Scheduler(const SchedulerSettings& config)
    : m_config(config),
      // Anyone may NOTIFY pgtq_scheduled: notifications may bring a tick forward, but not
      // more often than min_gap after the last tick.
      m_wake_up({.channel = "pgtq_scheduled",
                 .payload = std::nullopt, // whatever the payload
                 .poll_interval = config.interval,
                 .min_gap = min_gap(config)}) {}

Scheduler::~Scheduler() {
  stop();
}

void Scheduler::start() {
  m_thread = std::thread([this] { run(); });
}

void Scheduler::stop() {
  m_stopping = true;
  m_wake_up.interrupt();
  if (m_thread.joinable()) {
    m_thread.join();
  }
}

void Scheduler::run() {
  RetryBackoff backoff;
  while (!m_stopping) {
    try {
      if (!m_connection) {
        m_connection.emplace(
            m_config.dsn, application_name(m_config, "schedule"), scheduler_session());
        m_connection->use_prepared_statements(m_config.prepared_statements);
        m_wake_up.listen(*m_connection);
        if (backoff.failures() > 0) {
          scheduler_logger()->info("scheduler reconnected");
        }
      }
      auto next = tick();
      m_retention.run_if_due(*m_connection);
      backoff.reset();
      // Behind a transaction pooler notifications cannot arrive and a registration would
      // name a pooled backend: the scheduler then finds delayed tasks at its ticks only.
      if (m_config.prepared_statements) {
        next = register_sleep(next);
      }
      wait_until(next);
    } catch (const std::exception& error) {
      // Every failure is logged: a scheduler that does not tick rescues nothing. A new
      // session (the old one may be read-only, or broken) after a jittered backoff.
      const auto delay = backoff.next();
      ++m_counters.errors;
      scheduler_logger()->error("scheduler tick failed: {}; next try in {:.1f} s",
                                error.what(),
                                std::chrono::duration<double>(delay).count());
      m_connection.reset();
      wait_until(Clock::now() + delay);
    }
  }
}

Scheduler::Clock::time_point Scheduler::tick() {
  const std::string batch = std::to_string(k_tick_batch);
  m_wake_up.hold_back(); // notifications taken from now on make the next tick
  m_last_tick = Clock::now();
  sweep_gone_workers();
  db::Result result(nullptr);
  try {
    result = m_connection->run(db::queries::k_tick, {batch});
  } catch (const db::PgError& error) {
    // 22008: the next due time is 'infinity' or too far ahead for an interval. The tick
    // rolled back with it; tick without the due time, so that one row cannot stop the
    // promotion and rescue of every other.
    if (error.sqlstate() != "22008") {
      throw;
    }
    if (!m_due_out_of_range) {
      scheduler_logger()->warn(
          "the next scheduled task's due time is out of range ({}); ticking every "
          "scheduler-interval",
          error.what());
      m_due_out_of_range = true;
    }
    result = m_connection->run(db::queries::k_tick_without_due, {batch});
  }
  const auto promoted = result.int64(0, 0);
  const auto rescued = result.int64(0, 1);
  const auto failed = result.int64(0, 2);
  ++m_counters.ticks;
  m_counters.promoted += static_cast<std::uint64_t>(promoted);
  m_counters.rescued += static_cast<std::uint64_t>(rescued);
  m_counters.expired_failed += static_cast<std::uint64_t>(failed);
  SPDLOG_LOGGER_DEBUG(
      scheduler_logger(), "tick: {} promoted, {} rescued, {} failed", promoted, rescued, failed);
  if (promoted > 0) {
    SPDLOG_LOGGER_DEBUG(scheduler_logger(), "{} scheduled task(s) due, queued", promoted);
  }
  if (rescued > 0 || failed > 0) {
    scheduler_logger()->warn(
        "rescued {} task(s) whose lease expired; {} of them had no attempts left and "
        "failed",
        rescued + failed,
        failed);
  }
  // Jittered, so that the schedulers of many daemons do not tick in lockstep.
  auto next = m_wake_up.arm_poll();
  if (promoted + rescued + failed >= k_tick_batch) {
    return Clock::now(); // a backlog: go on at once
  }
  if (!result.is_null(0, 3) && !result.text(0, 3).empty()) {
    // strtod, not stod: "Infinity" or a huge value must not throw; clamped below.
    double due_in = std::strtod(result.string(0, 3).c_str(), nullptr);
    if (due_in <= 0 && promoted == 0) {
      // Due, yet this tick promoted nothing: another daemon's scheduler holds the tick lock
      // (or the row is locked). Look again shortly rather than spin on the database.
      due_in = std::chrono::duration<double>(min_gap(m_config)).count();
    }
    // Clamped: a task due centuries ahead overflows a nanosecond clock.
    next = std::min(next, Clock::now() + to_clock_duration(due_in));
  }
  return next;
}

void Scheduler::sweep_gone_workers() {
  try {
    const auto ended = m_connection->run(db::queries::k_sweep_gone_workers, {}).int64(0, 0);
    if (ended > 0) {
      scheduler_logger()->warn("ended the leases of {} task(s) of pgtqd whose database session "
                               "ended and did not come back within its session grace; "
                               "rescuing them",
                               ended);
    }
    if (m_sweep_failed) {
      scheduler_logger()->info("the sweep of gone workers works again");
      m_sweep_failed = false;
    }
  } catch (const db::PgError& error) {
    if (error.is_connection_error()) {
      throw;
    }
    // Say, a role that may not write pgtq.workers: leases still run out, only later.
    if (!m_sweep_failed) {
      scheduler_logger()->warn("cannot sweep the registry of workers ({}): the tasks of a "
                               "killed pgtqd wait for their leases to run out",
                               error.what());
      m_sweep_failed = true;
    }
  }
}

Scheduler::Clock::time_point Scheduler::register_sleep(Clock::time_point deadline) {
  using std::chrono::milliseconds;
  const auto wakes_in = std::chrono::duration<double>(deadline - Clock::now()).count();
  try {
    // Committed before delayed_pushes_in_flight() looks: a push that looks later sees it.
    m_connection->run(db::queries::k_scheduler_waiting,
                      {m_config.worker_name.empty() ? "pgtqd" : m_config.worker_name,
                       std::to_string(std::clamp(wakes_in, 0.0, 86400.0))});
  } catch (const db::PgError& error) {
    if (error.is_connection_error()) {
      throw;
    }
    // Say, a role without the right to write pgtq.waiting_schedulers, or a row locked by an
    // operator (lock_timeout): ticking on schedule matters more than being woken early.
    if (!m_registration_failed) {
      scheduler_logger()->warn(
          "scheduler could not register its sleep ({}): delayed pushes due before its "
          "next tick do not wake it",
          error.what());
      m_registration_failed = true;
    }
    return deadline;
  }
  if (m_registration_failed) {
    scheduler_logger()->info("scheduler registered its sleep again");
    m_registration_failed = false;
  }
  // Pushes still in flight when the last wait gave up looked before that tick's
  // registration too: what they push is found by a tick after they commit. Wait for the
  // others only.
  std::vector<std::string> waiting;
  std::vector<std::string> still_long;
  for (std::string& holder :
       text_array_items(m_connection->run(db::queries::k_delayed_pushes_in_flight, {db::Param()})
                            .string(0, 0))) {
    const bool known =
        std::find(m_long_pushes.begin(), m_long_pushes.end(), holder) != m_long_pushes.end();
    (known ? still_long : waiting).push_back(std::move(holder));
  }
  m_long_pushes = std::move(still_long);
  if (!waiting.empty()) {
    // A push that looked before the registration and ended before the list was read is not
    // in it, and its task is committed: its due time counts now, not once the others end.
    deadline = next_due(deadline);
  }
  auto delay = milliseconds(1);
  const auto started = Clock::now();
  auto check_at = started + delay;
  while (!waiting.empty()) {
    m_wake_up.take(*m_connection, false);
    const auto now = Clock::now();
    if (m_stopping || now >= deadline) {
      m_long_pushes.insert(m_long_pushes.end(), waiting.begin(), waiting.end());
      return deadline;
    }
    if (now >= check_at) {
      std::vector<std::string> still = text_array_items(
          m_connection
              ->run(db::queries::k_delayed_pushes_in_flight, {pgtq::detail::pg_text_array(waiting)})
              .string(0, 0));
      if (still.size() < waiting.size()) {
        // Those that ended have committed or rolled back: their tasks count from now on,
        // whatever the others still do.
        deadline = next_due(deadline);
      }
      waiting = std::move(still);
      // After a second, what is still in flight is an open transaction: pg_locks is read
      // once a second for it, not ten times.
      delay = std::min(delay * 2, now - started < k_patience ? milliseconds(100) : k_patience);
      check_at = now + delay;
    } else if (!m_wake_up.wait(&*m_connection, std::min(deadline, check_at))) {
      return now; // a delayed push notified: tick now, and wait for the rest after it
    }
  }
  return next_due(deadline);
}

Scheduler::Clock::time_point Scheduler::next_due(Clock::time_point deadline) {
  db::Result due(nullptr);
  try {
    due = m_connection->run(db::queries::k_next_due, {});
  } catch (const db::PgError& error) {
    if (error.sqlstate() != "22008") { // as in tick(): an uncomputable due time
      throw;
    }
    return deadline;
  }
  if (!due.is_null(0, 0) && !due.text(0, 0).empty()) {
    const double due_in = std::strtod(due.string(0, 0).c_str(), nullptr);
    // A task due already, yet not promoted by the tick (another scheduler ticks, or its row
    // is locked) is looked at again after the gap, as a notification would be: no spinning.
    const auto due_at = due_in > 0 ? Clock::now() + to_clock_duration(due_in)
                                   : std::max(Clock::now(), m_last_tick + min_gap(m_config));
    deadline = std::min(deadline, due_at);
  }
  return deadline;
}

void Scheduler::wait_until(Clock::time_point deadline) {
  const auto left = [&] {
    return std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  };
  if (!m_connection) {
    while (!m_stopping && left() > 0) {
      m_wake_up.sleep(deadline);
    }
    return;
  }
  // Notifications read along with the tick's result already sit in libpq's buffer, where
  // poll() cannot see them. A delayed task was pushed: tick soon, so that its due time is
  // seen; many notifications in a row make one tick, not one each.
  m_wake_up.take(*m_connection);
  while (!m_stopping && left() > 0) {
    if (!m_wake_up.wait(&*m_connection, deadline)) {
      return;
    }
  }
}

} // namespace pgtq::queue
