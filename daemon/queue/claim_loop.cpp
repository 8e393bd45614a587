#include "queue/claim_loop.hpp"

#include "db/queries.hpp"
#include "queue/sessions.hpp"

#include <pgtq/client/pg_array.hpp>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <charconv>
#include <cstdio>

namespace pgtq::queue {
namespace {

std::shared_ptr<spdlog::logger> logger() {
  auto found = spdlog::get("queue");
  return found ? found : spdlog::default_logger();
}

std::string interval_text(Duration lease) {
  char text[64];
  std::snprintf(text, sizeof text, "%.3f seconds",
                storable_delay(std::chrono::duration<double>(lease).count()));
  return text;
}

// A task id as pgtq.cancel() sends it: decimal digits only, positive, fits a bigint. Anyone
// with CONNECT may NOTIFY this channel, so anything else is ignored.
std::optional<std::int64_t> task_id_of(const std::string& payload) {
  if (payload.empty() || payload.size() > 19) {
    return std::nullopt;
  }
  std::int64_t id = 0;
  const auto [end, error] = std::from_chars(payload.data(), payload.data() + payload.size(), id);
  if (error != std::errc() || end != payload.data() + payload.size() || id <= 0) {
    return std::nullopt;
  }
  return id;
}

} // namespace

ClaimLoop::ClaimLoop(const ClaimLoopSettings& config, const plugin::HandlerRegistry& registry,
                     DaemonState& state)
    : m_config(config), m_task_names(pgtq::detail::pg_text_array(registry.names())),
      m_lease_text(interval_text(config.lease)), m_state(state), m_executor(registry),
      m_wake_up({.channel = "pgtq_wakeup",
                 .payload = config.queue,
                 .poll_interval = config.poll_interval,
                 .min_gap = k_min_wakeup_gap},
                [this](const db::Notification& note) {
                  if (note.channel == "pgtq_cancel") {
                    if (const auto id = task_id_of(note.payload)) {
                      cancel_requested(*id);
                    }
                  }
                }),
      m_recorder(m_in_flight, state), m_releaser(m_in_flight), m_lease_keeper(config, m_in_flight) {
  m_pool = std::make_unique<WorkerPool>(
      config.concurrency, m_executor,
      [this](Outcome&& outcome) {
        m_recorder.add(std::move(outcome));
        m_wake_up.interrupt();
      },
      [this](ClaimedTask&& task) {
        m_releaser.add(std::move(task));
        m_wake_up.interrupt();
      },
      state.busy);
}

ClaimLoop::~ClaimLoop() {
  m_pool->shutdown();
  m_pool.reset();
  m_lease_keeper.stop();
}

void ClaimLoop::connect() {
  const db::SessionSettings settings = work_session(m_config.heartbeat);
  m_connection.emplace(m_config.dsn, application_name(m_config, "claim"), settings);
  m_connection->use_prepared_statements(m_config.prepared_statements);
  m_wake_up.listen(*m_connection);
  // A cancelled running task is told at once, not at its next heartbeat.
  m_connection->listen("pgtq_cancel");
  m_recorder.connect(m_config.dsn, application_name(m_config, "complete"), settings,
                     m_config.prepared_statements);
  m_state.db_connected = true;
  m_reconnect_backoff.reset();
  m_maybe_more = true; // whatever was pushed while we were away
  if (m_connection->startup_options_refused() && !m_state.ready) {
    logger()->warn("the server or pooler refused startup options: sessions run at the "
                   "database's default isolation level; make it READ COMMITTED for pgtqd's "
                   "role (ALTER ROLE … SET default_transaction_isolation = 'read committed')");
  }
  if (!m_state.ready.exchange(true)) {
    logger()->info("queue \"{}\": {} workers, listening as {}", m_config.queue,
                   m_config.concurrency, m_config.worker_name);
  } else {
    logger()->info("database connection re-established");
  }
}

void ClaimLoop::run() {
  m_wake_up.arm_poll();
  m_lease_keeper.start();
  // The one wall of the loop: an error ends the turn, and handle_error() decides the rest.
  while (!m_state.finished) {
    m_state.mark_turn();
    try {
      if (!m_connection) {
        connect();
      }
      turn();
      m_errors.reset();
    } catch (const db::PgError& error) {
      handle_error(error);
    } catch (const std::exception& error) {
      logger()->error("claim loop: {}", error.what());
      sleep_interruptibly(retry_delay(0, random01(), std::chrono::seconds(1)));
    }
  }
  m_lease_keeper.stop();
}

void ClaimLoop::handle_error(const db::PgError& error) {
  const bool sessions_ok = m_connection && m_connection->is_ok() && m_recorder.connection_ok();
  if (const auto retry_in = m_errors.on_error(error, sessions_ok)) {
    sleep_interruptibly(*retry_in);
    return;
  }
  if (m_state.db_connected.exchange(false) || !m_state.ready) {
    if (sessions_ok && !error.is_connection_error()) {
      logger()->warn("{}; reconnecting with backoff, running tasks go on", error.what());
    } else {
      logger()->warn("database unavailable: {}; retrying with backoff, running tasks go on",
                     error.what());
    }
  }
  disconnect_and_wait();
}

void ClaimLoop::disconnect_and_wait() {
  m_connection.reset();
  m_recorder.disconnect();
  // A stop requested while the database is away must end the process all the same.
  start_draining_if_asked();
  if (m_draining &&
      (m_in_flight.empty() || m_state.cancel_now || Clock::now() >= m_drain_deadline)) {
    if (!m_in_flight.empty()) {
      logger()->error("cannot release {} unfinished task(s) without the database; they "
                      "run again once their lease expires",
                      m_in_flight.size());
      // Their handlers are asked to stop (App gives them a moment before it exits).
      for (const auto& held : m_in_flight.snapshot()) {
        held.attempt->stop.store(true);
      }
    }
    m_state.finished = true;
    return;
  }
  const Clock::duration delay = m_reconnect_backoff.next();
  sleep_interruptibly(m_draining ? std::min(delay, m_drain_deadline - Clock::now()) : delay);
}

void ClaimLoop::turn() {
  const auto now = Clock::now();
  start_draining_if_asked();
  // A busy loop reads the socket with every result; an idle one in wait_for_work().
  m_wake_up.take(*m_connection, false);
  m_releaser.release_not_started(*m_connection, m_draining);

  const Flushed flushed = record_outcomes();
  if (flushed.error) {
    throw *flushed.error;
  }

  if (m_draining && !m_in_flight.empty() && (m_state.cancel_now || now >= m_drain_deadline)) {
    release_unfinished();
  }
  if (m_draining && m_in_flight.empty()) {
    m_state.finished = true;
    return;
  }

  const bool woken = m_wake_up.take_pending(); // this turn claims because of a notification
  if (woken) {
    m_maybe_more = true;
  }
  const int free_slots = slots() - static_cast<int>(m_in_flight.size());
  if (!flushed.claimed && wants_claim() && free_slots > 0) {
    const std::size_t held = m_in_flight.size();
    const auto claimed_at = Clock::now();
    dispatch(run_claim(free_slots), free_slots, claimed_at);
    if (woken && m_in_flight.size() == held) {
      m_wake_up.hold_back(); // a wake-up for nothing: hold the next ones back
    }
  }

  auto until = m_wake_up.next_poll();
  if (m_draining) {
    // After the grace period, finished outcomes still get a moment to be recorded.
    until = std::min(until, now < m_drain_deadline ? m_drain_deadline
                                                   : m_drain_deadline + k_outcome_drain_extra);
  }
  if (const auto due = m_recorder.next_due()) {
    until = std::min(until, *due);
  }
  if (!m_maybe_more || free_slots <= 0 || m_draining) {
    wait_for_work(until);
  }
}

db::Result ClaimLoop::run_claim(int count) {
  db::Result rows = m_connection->run(
      db::queries::k_claim,
      {m_config.queue, m_task_names, std::to_string(count), m_config.worker_name, m_lease_text});
  SPDLOG_LOGGER_DEBUG(logger(), "claim: asked for {}, got {}", count, rows.rows());
  return rows;
}

void ClaimLoop::dispatch(const db::Result& rows, int requested, Clock::time_point claimed_at) {
  int claimed = 0;
  const auto lease_until = claimed_at + m_config.lease;
  for (int row = 0; row < rows.rows(); ++row) {
    ClaimedTask task;
    task.id = rows.int64(row, 0);
    task.claim = rows.int64(row, 1);
    task.name = rows.string(row, 2);
    task.args = rows.string(row, 3);
    task.attempt = static_cast<std::int32_t>(rows.int64(row, 4));
    task.max_attempts = static_cast<std::int32_t>(rows.int64(row, 5));
    const auto attempt = m_in_flight.add(task.id, task.claim, lease_until);
    SPDLOG_LOGGER_DEBUG(logger(), "task {} ({}) attempt {}/{} claimed", task.id, task.name,
                        task.attempt, task.max_attempts);
    // The worker shares the attempt's stop flag (aliasing: it keeps the attempt alive).
    m_pool->submit(std::move(task), std::shared_ptr<std::atomic<bool>>(attempt, &attempt->stop));
    ++claimed;
  }
  m_maybe_more = claimed == requested; // a full batch: more may be waiting
}

ClaimLoop::Flushed ClaimLoop::record_outcomes() {
  std::vector<Outcome> batch = m_recorder.take_due();
  if (batch.empty()) {
    return {};
  }
  // The workers of these outcomes are free again: claim their next tasks on this loop's
  // connection while the recorder records the outcomes on its own. The two statements touch
  // disjoint rows (running ones, queued ones), run on two backends at once, and their
  // commits (one WAL flush each) overlap instead of queueing behind each other.
  const int free_slots =
      slots() - static_cast<int>(m_in_flight.size()) + static_cast<int>(batch.size());
  const int wanted = wants_claim() ? std::max(free_slots, 0) : 0;
  if (Recording sent = m_recorder.send(batch); sent.error) {
    return {false, std::move(sent.error)}; // the outcomes were kept
  }
  std::optional<db::Result> claimed;
  Flushed flushed;
  const auto claimed_at = Clock::now();
  if (wanted > 0) {
    try {
      claimed.emplace(run_claim(wanted));
    } catch (const db::PgError& error) {
      flushed.error = error; // reported once the outcomes are dealt with
    }
  }
  Recording recording = m_recorder.receive(batch);
  // Claimed tasks are this daemon's whatever becomes of the outcomes: they run either way.
  if (claimed) {
    dispatch(*claimed, wanted, claimed_at);
    flushed.claimed = true;
  }
  if (recording.result == Recording::Result::refused) {
    recording = m_recorder.record_one_by_one(batch);
  }
  if (recording.error) {
    flushed.error = std::move(recording.error); // the recorder's error ends the turn first
  }
  return flushed;
}

void ClaimLoop::start_draining_if_asked() {
  if (!m_state.drain || m_draining) {
    return;
  }
  m_draining = true;
  m_drain_deadline = Clock::now() + m_config.shutdown_grace;
  logger()->info("stopping: no new claims; {} running task(s) get {:.0f} s to finish",
                 m_in_flight.size(),
                 std::chrono::duration<double>(m_config.shutdown_grace).count());
  // Out of the pool at once, whether or not the database is there: no worker may start them
  // during the drain. They stay in flight until the releaser gives them back.
  m_releaser.add(m_pool->take_unstarted());
}

void ClaimLoop::cancel_requested(std::int64_t id) {
  const auto attempt = m_in_flight.find(id);
  if (!attempt) {
    return; // another daemon's task, or one that ended meanwhile
  }
  attempt->cancelled = true;
  if (!attempt->stop.exchange(true)) {
    logger()->info("task {}: cancellation requested; asking its handler to stop", id);
  }
  // Prefetched and not started: give it back now (pgtq.release ends it cancelled).
  if (auto task = m_pool->take_unstarted(id)) {
    m_releaser.add(std::move(*task));
    m_wake_up.interrupt();
  }
}

void ClaimLoop::release_unfinished() {
  if (!m_unfinished_released) {
    m_unfinished_released = true;
    m_recorder.stop_waiting(); // the grace period is over: no more waiting
  }
  // Outcomes first: attempts whose handler returned are not released. The unfinished ones
  // go back whatever becomes of the outcomes.
  const Flushed flushed = record_outcomes();
  m_releaser.release_unfinished(*m_connection);
  if (flushed.error) {
    throw *flushed.error;
  }
  if (!m_in_flight.empty() &&
      (m_state.cancel_now || Clock::now() >= m_drain_deadline + k_outcome_drain_extra)) {
    logger()->error("{} finished task(s) whose outcomes could not be recorded; they run again "
                    "once their leases expire", m_in_flight.size());
    m_in_flight.clear();
  }
}

void ClaimLoop::wait_for_work(Clock::time_point until) {
  // Notifications may already sit in libpq's buffer, read along with a query's result: the
  // server sends those that came in during a claim ahead of its result, so a push that just
  // missed a woken claim which found nothing is heard here, within k_min_wakeup_gap of it.
  // WakeUp::wait() decides the wait for the gap after they are taken, never before.
  m_wake_up.take(*m_connection);
  if (m_maybe_more && !m_draining && static_cast<int>(m_in_flight.size()) < slots()) {
    return;
  }
  if (m_wake_up.wait(&*m_connection, until) && m_wake_up.poll_due()) {
    m_maybe_more = true;
  }
}

void ClaimLoop::sleep_interruptibly(Clock::duration duration) {
  const auto deadline = Clock::now() + duration;
  while (!m_state.finished) {
    m_state.mark_turn();
    if (std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count() <=
        0) {
      return;
    }
    m_wake_up.sleep(deadline);
    // A signal (not a finished task) cuts the wait short, so that shutdown is prompt.
    if (m_state.drain && (!m_draining || m_state.cancel_now)) {
      return;
    }
  }
}

} // namespace pgtq::queue
