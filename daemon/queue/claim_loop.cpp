#include "queue/claim_loop.hpp"

#include "db/queries.hpp"
#include "queue/cancellation.hpp"
#include "queue/log_context.hpp"
#include "queue/outcome_batch.hpp"
#include "queue/process_runner.hpp"
#include "queue/queue_logger.hpp"
#include "queue/sessions.hpp"
#include "queue/thread_runner.hpp"

#include <pgtq/client/pg_array.hpp>
#include <pgtq/client/statement.hpp>

#include <spdlog/spdlog.h>

#include <algorithm>

namespace pgtq::queue {
namespace {

std::unique_ptr<TaskRunner> make_runner(const ClaimLoopSettings& config,
                                        const std::shared_ptr<const plugin::PluginSet>& plugins,
                                        DaemonState& state,
                                        std::function<void()> on_available) {
  if (config.isolation.processes) {
    return std::make_unique<ProcessRunner>(config.concurrency,
                                           config.queue,
                                           plugins,
                                           config.isolation,
                                           state,
                                           std::move(on_available));
  }
  return std::make_unique<ThreadRunner>(config.isolation.task_timeout);
}

} // namespace

ClaimLoop::ClaimLoop(const ClaimLoopSettings& config,
                     std::shared_ptr<const plugin::PluginSet> plugins,
                     DaemonState& state,
                     SharedSeat seat)
    : m_config(config), m_seat(std::move(seat)),
      m_lease_text(pgtq::detail::interval_text(
          std::chrono::duration_cast<std::chrono::microseconds>(config.lease))),
      m_state(state),
      m_runner(make_runner(config, plugins, state, [this] { m_wake_up.interrupt(); })),
      m_wake_up({.channel = "pgtq_wakeup",
                 .payload = config.queue,
                 .poll_interval = config.poll_interval,
                 .min_gap = k_min_wakeup_gap},
                [this](const db::Notification& note) {
                  if (auto task = cancel_requested(note, m_in_flight, *m_pool, m_lease_keeper)) {
                    m_releaser.add(std::move(*task));
                    m_wake_up.interrupt();
                  }
                }),
      m_recorder(m_in_flight, state), m_releaser(m_in_flight),
      m_drain(state,
              config.shutdown_grace,
              config.isolation.processes ? config.isolation.timeout_grace : Duration{}),
      m_prefetch(config.concurrency, config.prefetch),
      m_idle(config.queue,
             config.worker_name,
             config.poll_interval,
             // Behind a transaction pooler (the reason to turn prepared statements off)
             // notifications do not arrive, and a registration names a pooled backend.
             config.prepared_statements),
      m_lease_keeper(config, m_in_flight) {
  m_in_flight.report_signal().set_waker([this] { m_wake_up.interrupt(); });
  m_task_names = pgtq::detail::pg_text_array(plugins->registry().names());
  m_lease_keeper.set_task_names(m_task_names);
  m_plugins = std::move(plugins);
  m_pool = std::make_unique<WorkerPool>(
      config.concurrency,
      *m_runner,
      [this](Outcome&& outcome) {
        m_recorder.add(std::move(outcome));
        m_wake_up.interrupt();
      },
      [this](ClaimedTask&& task) {
        m_releaser.add(std::move(task));
        m_wake_up.interrupt();
      },
      state.busy,
      // With prefetch 0 every claimed task has a free worker: none is handed ahead.
      config.prefetch != 0,
      config.queue);
  if (m_seat.workers) {
    m_seat.workers->set_waker(m_seat.member, [this] { m_wake_up.interrupt(); });
  }
}

ClaimLoop::~ClaimLoop() {
  m_in_flight.report_signal().set_waker(nullptr);
  if (m_seat.workers) {
    m_seat.workers->set_waker(m_seat.member, nullptr);
    m_seat.workers->update(m_seat.member, 0, false);
  }
  m_pool->shutdown();
  m_pool.reset();
  m_runner.reset();
  m_lease_keeper.stop();
}

void ClaimLoop::use_plugins(std::shared_ptr<const plugin::PluginSet> plugins) {
  {
    const std::lock_guard lock(m_reload_mutex);
    m_reloaded = std::move(plugins);
  }
  m_wake_up.interrupt();
}

void ClaimLoop::take_reloaded_plugins() {
  std::shared_ptr<const plugin::PluginSet> reloaded;
  {
    const std::lock_guard lock(m_reload_mutex);
    reloaded = std::move(m_reloaded);
  }
  if (!reloaded) {
    return;
  }
  m_task_names = pgtq::detail::pg_text_array(reloaded->registry().names());
  m_lease_keeper.set_task_names(m_task_names);
  m_lease_keeper.renew_soon(); // the registry says so at once, not at the next heartbeat
  m_runner->use_plugins(reloaded);
  m_pool->prepare_again(); // idle workers of the old plugins are replaced now
  m_plugins = std::move(reloaded);
  m_maybe_more = true; // tasks of a new task name may be waiting already
}

bool ClaimLoop::wait_workers_idle(std::chrono::milliseconds wait) {
  if (m_pool->wait_idle_until(Clock::now() + wait)) {
    return true;
  }
  m_runner->abandon();
  return m_pool->wait_idle_until(Clock::now() + wait);
}

void ClaimLoop::connect() {
  const db::SessionSettings settings = work_session(m_config.heartbeat);
  m_connection.emplace(
      m_config.dsn, application_name(m_config, "claim"), claim_session(m_config.heartbeat));
  m_connection->use_prepared_statements(m_config.prepared_statements);
  m_wake_up.listen(*m_connection);
  // A cancelled running task is told at once, not at its next heartbeat.
  m_connection->listen("pgtq_cancel");
  m_recorder.connect(
      m_config.dsn, application_name(m_config, "complete"), settings, m_config.prepared_statements);
  m_state.db_connected = true;
  m_reconnect_backoff.reset();
  m_maybe_more = true; // whatever was pushed while we were away
  m_idle.reset();      // the old session's registration ended with it
  if (!m_state.ready) {
    warn_if_startup_options_refused(*m_connection);
  }
  if (!m_state.ready.exchange(true)) {
    // The queue is named by every line of this thread (log_context.hpp).
    logger()->info("{} {}worker{}{}, listening as {}",
                   m_config.concurrency,
                   m_seat.workers ? "shared " : "",
                   m_config.concurrency == 1 ? "" : "s",
                   m_seat.workers
                       ? " (weight " + std::to_string(m_seat.workers->weight(m_seat.member)) + ")"
                       : std::string(),
                   m_config.worker_name);
  } else {
    ++m_state.metrics.reconnects;
    logger()->info("database connection re-established");
  }
}

void ClaimLoop::run() {
  set_thread_queue(m_config.queue);
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
      // What a failed claim reserved is free again, and a loop waiting out an error claims
      // nothing: it wants no share that the others would have to keep for it.
      publish_share(false);
      handle_error(error);
    } catch (const std::exception& error) {
      publish_share(false);
      logger()->error("claim loop: {}", error.what());
      sleep_interruptibly(retry_delay(0, random01(), std::chrono::seconds(1)));
    }
  }
  m_lease_keeper.stop();
}

void ClaimLoop::handle_error(const db::PgError& error) {
  const bool sessions_ok = m_connection && m_connection->is_ok() && m_recorder.connection_ok();
  if (const auto retry_in = m_errors.on_error(error, sessions_ok, m_state)) {
    sleep_interruptibly(*retry_in);
  } else {
    disconnect_and_wait();
  }
}

void ClaimLoop::disconnect_and_wait() {
  m_connection.reset();
  m_recorder.disconnect();
  // A stop requested while the database is away must end the process all the same.
  start_draining_if_asked();
  if (m_drain.active() && (m_in_flight.empty() || m_drain.grace_over(Clock::now()))) {
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
  sleep_interruptibly(m_drain.active() ? std::min(delay, m_drain.deadline() - Clock::now())
                                       : delay);
}

void ClaimLoop::turn() {
  take_reloaded_plugins();
  const auto now = Clock::now();
  start_draining_if_asked();
  if (m_drain.active()) {
    m_idle.leave(*m_connection); // no more claims: pushes need not wake this loop
  }
  // A busy loop reads the socket with every result; an idle one in wait_for_work().
  m_wake_up.take(*m_connection, false);
  // Before a release: what a stopped handler saved last reaches the task's next attempt.
  write_reports(now, m_releaser.has_pending());
  m_releaser.release_not_started(*m_connection, m_drain.active());

  const Flushed flushed = record_outcomes();
  if (flushed.error) {
    throw *flushed.error;
  }
  give_back_held();

  if (m_drain.grace_over(now) && !m_in_flight.empty()) {
    release_unfinished();
  }
  if (m_drain.active() && m_in_flight.empty()) {
    publish_share();
    m_state.finished = true;
    return;
  }

  const bool woken = m_wake_up.take_pending(); // this turn claims because of a notification
  if (woken) {
    ++m_state.metrics.notify_wakeups;
    m_maybe_more = true;
  }
  note_capacity();
  // A wake-up says this queue may have work: the queues sharing its workers hear it before
  // any of them claims beyond its share.
  publish_share();
  int free_slots = free_claim_slots();
  if (!flushed.claimed && wants_claim() && free_slots > 0) {
    free_slots = reserve_claim(); // what the queues sharing the workers leave
  }
  if (!flushed.claimed && wants_claim() && free_slots > 0) {
    const std::size_t held = m_in_flight.size();
    const auto claimed_at = Clock::now();
    dispatch(run_claim(free_slots), free_slots, claimed_at);
    if (woken && m_in_flight.size() == held) {
      m_wake_up.hold_back(); // a wake-up for nothing: hold the next ones back
    }
  }
  publish_share();

  // Before the loop sleeps, pushes must be sure to wake it (idle_registration.hpp).
  if (!m_drain.active() && m_idle.update(*m_connection, !m_maybe_more, Clock::now())) {
    m_maybe_more = true; // every push that may have missed the registration has ended
  }
  auto until = m_wake_up.next_poll();
  if (const auto check = m_idle.next_check()) {
    until = std::min(until, *check);
  }
  if (m_drain.active()) {
    until = std::min(until, m_drain.next_step(now));
  }
  if (const auto due = m_recorder.next_due()) {
    until = std::min(until, *due);
  }
  if (m_look_at_held) {
    if (*m_look_at_held <= Clock::now()) {
      m_look_at_held.reset(); // this turn looked (give_back_held sets it again if it gave)
    } else {
      until = std::min(until, *m_look_at_held);
    }
  }
  if (m_reports_waiting) {
    until = std::min(until, m_next_report);
  }
  if (m_maybe_more && m_in_flight.fence_passed(Clock::now())) {
    until = std::min(until, Clock::now() + k_fence_check); // claims again once it moves on
  }
  if (!wants_claim() || free_slots <= 0) {
    wait_for_work(until);
  }
}

int ClaimLoop::free_claim_slots(int finishing) const {
  const int unavailable = m_runner->unavailable_slots();
  if (unavailable >= m_config.concurrency) {
    return 0; // no worker can run a task: whatever is claimed would only wait
  }
  return slots() - unavailable - static_cast<int>(m_in_flight.size()) + finishing;
}

int ClaimLoop::claim_room(int finishing) const {
  const int free_slots = free_claim_slots(finishing);
  if (!m_seat.workers || free_slots <= 0) {
    return free_slots;
  }
  return m_seat.workers->room(
      m_seat.member, static_cast<int>(m_in_flight.size()) - finishing, free_slots);
}

int ClaimLoop::reserve_claim(int finishing) {
  const int free_slots = free_claim_slots(finishing);
  if (!m_seat.workers || free_slots <= 0) {
    return free_slots;
  }
  return m_seat.workers->reserve(
      m_seat.member, static_cast<int>(m_in_flight.size()) - finishing, free_slots);
}

void ClaimLoop::publish_share(bool may_want) {
  if (m_seat.workers) {
    m_seat.workers->update(m_seat.member,
                           static_cast<int>(m_in_flight.size()),
                           // A fence is a pause: the queue's share stays owed to it.
                           may_want && has_work() && free_claim_slots() > 0);
  }
}

void ClaimLoop::note_capacity() {
  const bool none = m_runner->unavailable_slots() >= m_config.concurrency;
  if (none == m_no_capacity) {
    return;
  }
  m_no_capacity = none;
  if (none) {
    logger()->error("no worker process can be started; claiming no tasks until one is");
  } else {
    logger()->info("a worker process started again; claiming tasks");
    m_maybe_more = true; // what was pushed meanwhile
  }
}

db::Result ClaimLoop::run_claim(int count) {
  db::Result rows = m_connection->run(
      db::queries::k_claim,
      {m_config.queue, m_task_names, std::to_string(count), m_config.worker_name, m_lease_text});
  SPDLOG_LOGGER_DEBUG(logger(), "claim: asked for {}, got {}", count, rows.rows());
  ++m_state.metrics.claim_queries;
  m_state.metrics.claimed += static_cast<std::uint64_t>(rows.rows());
  return rows;
}

void ClaimLoop::dispatch(const db::Result& rows, int requested, Clock::time_point claimed_at) {
  int claimed = 0;
  std::size_t args_bytes = 0;
  const auto lease_until = claimed_at + m_config.lease;
  for (int row = 0; row < rows.rows(); ++row) {
    ClaimedTask task = claimed_task(rows, row);
    const auto attempt = m_in_flight.add(task.id, task.claim, lease_until);
    SPDLOG_LOGGER_DEBUG(logger(),
                        "task {} ({}) attempt {}/{} claimed",
                        task.id,
                        task.name,
                        task.attempt,
                        task.max_attempts);
    task.plugins = m_plugins; // the names claimed were these plugins' names
    args_bytes += task.args.size();
    m_pool->submit(std::move(task), attempt);
    ++claimed;
  }
  m_maybe_more = claimed == requested; // a full batch: more may be waiting
  m_prefetch.on_claim(requested, claimed, args_bytes);
  m_idle.on_claim(m_maybe_more, Clock::now());
}

void ClaimLoop::write_reports(Clock::time_point now, bool now_or_never) {
  m_reports_waiting = m_in_flight.report_signal().take() || m_reports_waiting;
  if (!m_reports_waiting || (now < m_next_report && !now_or_never)) {
    return;
  }
  m_reports_waiting = false;
  m_next_report = now + k_report_interval;
  std::vector<std::int64_t> ids;
  std::vector<std::int64_t> claims;
  std::vector<std::optional<std::string>> progress;
  std::vector<std::optional<std::string>> checkpoints;
  std::vector<std::pair<std::shared_ptr<Attempt>, TaskReports::Latest>> taken;
  for (const InFlightTasks::Held& held : m_in_flight.snapshot()) {
    TaskReports::Latest unwritten = held.attempt->reports->take_unwritten();
    if (unwritten.empty()) {
      continue;
    }
    ids.push_back(held.id);
    claims.push_back(held.attempt->claim);
    progress.push_back(unwritten.progress);
    checkpoints.push_back(unwritten.checkpoint);
    taken.emplace_back(held.attempt, std::move(unwritten));
  }
  if (ids.empty()) {
    return;
  }
  const auto write = [&](std::size_t first, std::size_t count) {
    const auto slice = [&](const auto& all) {
      using Vector = std::decay_t<decltype(all)>;
      return Vector(all.begin() + static_cast<std::ptrdiff_t>(first),
                    all.begin() + static_cast<std::ptrdiff_t>(first + count));
    };
    m_connection->run(db::queries::k_report,
                      {pgtq::detail::pg_integer_array(slice(ids)),
                       pgtq::detail::pg_integer_array(slice(claims)),
                       optional_json_array(slice(progress)),
                       optional_json_array(slice(checkpoints))});
  };
  try {
    write(0, ids.size());
  } catch (const db::PgError& error) {
    if (error.is_connection_error() || error.is_read_only()) {
      for (const auto& [attempt, unwritten] : taken) {
        attempt->reports->give_back(unwritten);
      }
      m_reports_waiting = true;
      throw; // written after the reconnect
    }
    // A value the database refuses (a number jsonb writes out longer than the limit, say)
    // would be refused at every turn: the others are written one by one and it is dropped
    // (the outcome carries the latest again, and is recorded without it if need be).
    for (std::size_t i = 0; i < ids.size(); ++i) {
      try {
        write(i, 1);
      } catch (const db::PgError& one) {
        if (one.is_connection_error() || one.is_read_only()) {
          throw;
        }
        logger()->warn(
            "task {}: its progress or checkpoint was not written: {}", ids[i], one.what());
      }
    }
  }
}

ClaimLoop::Flushed ClaimLoop::record_outcomes() {
  std::vector<Outcome> batch = m_recorder.take_due();
  if (batch.empty()) {
    return {};
  }
  for (const Outcome& outcome : batch) {
    m_prefetch.on_attempt(outcome.duration_s);
  }
  // The workers of these outcomes are free again: claim their next tasks on this loop's
  // connection while the recorder records the outcomes on its own. The two statements touch
  // disjoint rows (running ones, queued ones), run on two backends at once, and their
  // commits (one WAL flush each) overlap instead of queueing behind each other.
  const int finishing = static_cast<int>(batch.size());
  const int wanted = wants_claim() ? std::max(reserve_claim(finishing), 0) : 0;
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
  // Without the idle registration (behind a pooler) no wake-up reaches this loop: a claim
  // that came back short for want of room (a queue's global concurrency limit) must look
  // again once these outcomes, which left room, are committed, not at the next poll.
  if (!m_config.prepared_statements && !recording.error) {
    m_maybe_more = true;
  }
  if (recording.error) {
    flushed.error = std::move(recording.error); // the recorder's error ends the turn first
  }
  return flushed;
}

void ClaimLoop::give_back_held() {
  const std::optional<int> keep = m_prefetch.keep_waiting();
  if (!keep || m_drain.active()) {
    return; // a fixed prefetch holds what the operator said; a drain gives back all anyway
  }
  const auto kept = static_cast<std::size_t>(*keep);
  const auto concurrency = static_cast<std::size_t>(m_config.concurrency);
  // Held tasks beyond those kept may sit with a worker process that took them ahead of an
  // attempt that turned out slow: they come back to the pool's queue once it has run a
  // moment (process_runner.cpp's k_queued_wait), when no outcome may wake this loop for a
  // long time. Look again then.
  if (m_in_flight.size() > kept + 2 * concurrency) {
    m_look_at_held = Clock::now() + k_held_recheck;
  }
  // Tasks at most a worker's round of them over: not worth a statement (and they start soon).
  if (m_pool->waiting_tasks() <= kept + concurrency) {
    return;
  }
  std::vector<ClaimedTask> tasks = m_pool->take_waiting_beyond(kept);
  if (tasks.empty()) {
    return;
  }
  m_releaser.add_given_back(std::move(tasks));
  m_releaser.release_not_started(*m_connection, false); // now, not at the next turn
}

void ClaimLoop::start_draining_if_asked() {
  if (!m_drain.start_if_asked()) {
    return;
  }
  logger()->info("stopping: no new claims; {} running task(s) get {:.0f} s to finish",
                 m_in_flight.size(),
                 std::chrono::duration<double>(m_config.shutdown_grace).count());
  // Out of the pool at once, whether or not the database is there: no worker may start them
  // during the drain. They stay in flight until the releaser gives them back.
  m_releaser.add(m_pool->take_unstarted());
}

void ClaimLoop::release_unfinished() {
  if (m_drain.first_release()) {
    m_recorder.stop_waiting(); // the grace period is over: no more waiting
  }
  // Outcomes first: attempts whose handler returned are not released. The unfinished ones
  // go back whatever becomes of the outcomes.
  const Flushed flushed = record_outcomes();
  if (m_runner->ends_stopped_handlers() && !m_state.cancel_now) {
    // Worker processes: each unfinished attempt is told to stop now, and its task released
    // once its worker has given it back (the handler returned without finishing, or was
    // killed timeout-grace later), so that it never runs here and elsewhere at once.
    m_releaser.stop_unfinished();
  } else {
    if (m_runner->ends_stopped_handlers()) {
      // A second stop request: released at once, so ended at once, and first: a task waiting
      // in a worker's socket could start there after its release (and run elsewhere too).
      m_runner->abandon();
    }
    write_reports(Clock::now(), true); // what they saved last reaches their next attempts
    m_releaser.release_unfinished(*m_connection);
  }
  if (flushed.error) {
    throw *flushed.error;
  }
  if (!m_in_flight.empty() && m_drain.give_up(Clock::now())) {
    logger()->error("{} finished task(s) whose outcomes could not be recorded; they run again "
                    "once their leases expire",
                    m_in_flight.size());
    m_in_flight.clear();
  }
}

void ClaimLoop::wait_for_work(Clock::time_point until) {
  // Notifications may already sit in libpq's buffer, read along with a query's result: the
  // server sends those that came in during a claim ahead of its result, so a push that just
  // missed a woken claim which found nothing is heard here, within k_min_wakeup_gap of it.
  // WakeUp::wait() decides the wait for the gap after they are taken, never before.
  m_wake_up.take(*m_connection);
  if (m_maybe_more && !m_drain.active() && claim_room() > 0) {
    return;
  }
  if (m_wake_up.wait(&*m_connection, until) && m_wake_up.poll_due()) {
    ++m_state.metrics.poll_wakeups;
    m_maybe_more = true;
    m_idle.on_poll();
  }
}

void ClaimLoop::sleep_interruptibly(Clock::duration duration) {
  const auto deadline = Clock::now() + duration;
  while (!m_state.finished) {
    m_state.mark_turn();
    if (deadline - Clock::now() < std::chrono::milliseconds(1)) {
      return;
    }
    m_wake_up.sleep(deadline);
    // A signal (not a finished task) cuts the wait short, so that shutdown is prompt.
    if (m_state.drain && (!m_drain.active() || m_state.cancel_now)) {
      return;
    }
  }
}

} // namespace pgtq::queue
