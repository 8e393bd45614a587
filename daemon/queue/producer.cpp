#include "queue/producer.hpp"

#include "db/pg_error.hpp"
#include "db/queries.hpp"
#include "queue/fences.hpp"
#include "queue/sessions.hpp"

#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>

namespace pgtq::queue {
namespace {

// The same non-transient error this many turns in a row: the session is the problem (say, a
// read-only one, or one whose state broke), so it is replaced.
constexpr int k_reconnect_after_repeats = 3;
// Transient errors (serialization failures, lock timeouts) are retried at once; only a long
// run of them is taken as a sign that the session, not the moment, is wrong.
constexpr int k_reconnect_after_transient_repeats = 20;

std::shared_ptr<spdlog::logger> logger() {
  auto found = spdlog::get("queue");
  return found ? found : spdlog::default_logger();
}

} // namespace

Producer::Producer(const ProducerSettings& config, const plugin::HandlerRegistry& registry,
                   DaemonState& state)
    : m_config(config), m_state(state), m_executor(registry),
      m_task_names(pgtq::detail::pg_text_array(registry.names())), m_worker_name(config.worker_name),
      m_lease_keeper(config, m_in_flight) {
  char lease[64];
  std::snprintf(lease, sizeof lease, "%.3f seconds", storable_delay(std::chrono::duration<double>(config.lease).count()));
  m_lease_text = lease;
  m_wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (m_wake_fd < 0) {
    throw std::system_error(errno, std::generic_category(), "eventfd");
  }
  m_pool = std::make_unique<WorkerPool>(
      config.concurrency, m_executor,
      [this](Outcome&& outcome) { note_outcome(std::move(outcome)); },
      [this](ClaimedTask&& task) { note_not_started(std::move(task)); }, state.busy);
}

Producer::~Producer() {
  m_pool->shutdown();
  m_pool.reset();
  m_lease_keeper.stop();
  ::close(m_wake_fd);
}

void Producer::wake() {
  const std::uint64_t one = 1;
  // A full counter (EAGAIN) already means "wake up"; nothing else can fail here.
  [[maybe_unused]] const auto written = ::write(m_wake_fd, &one, sizeof one);
}

void Producer::note_outcome(Outcome&& outcome) {
  if (const auto attempt = m_in_flight.find(outcome.id);
      attempt && attempt->claim == outcome.claim) {
    attempt->finished = true; // nothing left to stop while its outcome waits
  }
  {
    const std::lock_guard lock(m_outcomes_mutex);
    m_outcomes.push_back(std::move(outcome));
  }
  wake();
}

void Producer::note_not_started(ClaimedTask&& task) {
  {
    const std::lock_guard lock(m_outcomes_mutex);
    m_not_started.push_back(std::move(task));
  }
  wake();
}

Producer::Clock::time_point Producer::next_poll_time() const {
  // Jitter (±10 %) keeps many idle daemons from polling in lockstep.
  return Clock::now() + std::chrono::duration_cast<Clock::duration>(
                            m_config.poll_interval * (0.9 + 0.2 * random01()));
}

void Producer::connect() {
  const db::SessionSettings settings = work_session(m_config.heartbeat);
  m_connection.emplace(m_config.dsn, application_name(m_config, "claim"), settings);
  m_connection->use_prepared_statements(m_config.prepared_statements);
  m_connection->listen("pgtq_wakeup");
  // A cancelled running task is told at once, not at its next heartbeat.
  m_connection->listen("pgtq_cancel");
  // Outcomes are recorded on a connection of their own, so that recording a batch and
  // claiming the next tasks run at once on two server backends (flush_outcomes).
  m_completer.emplace(m_config.dsn, application_name(m_config, "complete"), settings);
  m_completer->use_prepared_statements(m_config.prepared_statements);
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
                   m_config.concurrency, m_worker_name);
  } else {
    logger()->info("database connection re-established");
  }
}

void Producer::run() {
  m_next_poll = next_poll_time();
  m_lease_keeper.start();
  while (!m_state.finished) {
    m_state.mark_turn();
    try {
      if (!m_connection) {
        connect();
      }
      turn();
      m_error_streak = 0;
    } catch (const db::PgError& error) {
      handle_error(error);
    } catch (const std::exception& error) {
      logger()->error("producer: {}", error.what());
      sleep_interruptibly(retry_delay(0, random01(), std::chrono::seconds(1)));
    }
  }
  m_lease_keeper.stop();
}

void Producer::handle_error(const db::PgError& error) {
  const std::string signature = error.sqlstate() + " " + error.what();
  m_error_streak = signature == m_last_error ? m_error_streak + 1 : 1;
  m_last_error = signature;
  const bool sessions_ok = m_connection && m_connection->is_ok() && m_completer &&
                           m_completer->is_ok();
  const int repeats_allowed =
      error.is_transient() ? k_reconnect_after_transient_repeats : k_reconnect_after_repeats;
  if (sessions_ok && !error.is_connection_error() && !error.is_read_only() &&
      m_error_streak < repeats_allowed) {
    if (error.is_transient()) {
      // A serialization failure, deadlock or lock timeout: the next try will likely pass.
      SPDLOG_LOGGER_DEBUG(logger(), "retrying after: {}", error.what());
      sleep_interruptibly(retry_delay(m_error_streak - 1, random01(),
                                      std::chrono::milliseconds(10), std::chrono::seconds(1)));
    } else {
      logger()->error("{}", error.what());
      // A persistent error must not spin.
      sleep_interruptibly(retry_delay(0, random01(), std::chrono::seconds(1)));
    }
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
  m_error_streak = 0;
  disconnect_and_wait();
}

void Producer::disconnect_and_wait() {
  m_connection.reset();
  m_completer.reset();
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

void Producer::turn() {
  const auto now = Clock::now();
  start_draining_if_asked();
  // A busy loop reads the socket with every result; an idle one in wait_for_work().
  take_notifications(false);
  release_not_started();

  const bool claimed = flush_outcomes();

  if (m_draining && !m_in_flight.empty() && (m_state.cancel_now || now >= m_drain_deadline)) {
    release_unfinished();
  }
  if (m_draining && m_in_flight.empty()) {
    m_state.finished = true;
    return;
  }

  bool woken = false; // this turn claims because of a notification
  if (m_notified && now >= m_last_empty_claim + k_min_wakeup_gap) {
    m_notified = false;
    m_maybe_more = true;
    woken = true;
  }
  const int free_slots = slots() - static_cast<int>(m_in_flight.size());
  if (!claimed && wants_claim() && free_slots > 0) {
    const std::size_t held = m_in_flight.size();
    claim(free_slots);
    if (woken && m_in_flight.size() == held) {
      m_last_empty_claim = Clock::now(); // a wake-up for nothing: hold the next ones back
    }
  }

  auto until = m_next_poll;
  if (m_draining) {
    // After the grace period, finished outcomes still get a moment to be recorded.
    until = std::min(until, now < m_drain_deadline ? m_drain_deadline
                                                   : m_drain_deadline + k_outcome_drain_extra);
  }
  {
    const std::lock_guard lock(m_outcomes_mutex);
    if (!m_outcomes.empty()) {
      until = std::min(until, m_outcomes_not_before);
    }
  }
  if (!m_maybe_more || free_slots <= 0 || m_draining) {
    wait_for_work(until);
  }
}

db::Result Producer::run_claim(int count) {
  db::Result rows = m_connection->run(
      db::queries::k_claim,
      {m_config.queue, m_task_names, std::to_string(count), m_worker_name, m_lease_text});

  SPDLOG_LOGGER_DEBUG(logger(), "claim: asked for {}, got {}", count, rows.rows());
  return rows;
}

void Producer::claim(int count) {
  const auto claimed_at = Clock::now();
  dispatch(run_claim(count), count, claimed_at);
}

void Producer::dispatch(const db::Result& rows, int requested, Clock::time_point claimed_at) {
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

void Producer::start_draining_if_asked() {
  if (!m_state.drain || m_draining) {
    return;
  }
  m_draining = true;
  m_drain_deadline = Clock::now() + m_config.shutdown_grace;
  logger()->info("stopping: no new claims; {} running task(s) get {:.0f} s to finish",
                 m_in_flight.size(),
                 std::chrono::duration<double>(m_config.shutdown_grace).count());
  take_back_unstarted();
}

bool Producer::wants_claim() const { return !m_draining && m_maybe_more; }

void Producer::take_back_unstarted() {
  // Out of the pool at once, whether or not the database is there: no worker may start them
  // during the drain. They stay in flight until release_not_started() gives them back, and
  // it keeps them for the next turn if that fails.
  std::vector<ClaimedTask> unstarted = m_pool->take_unstarted();
  if (unstarted.empty()) {
    return;
  }
  const std::lock_guard lock(m_outcomes_mutex);
  m_not_started.insert(m_not_started.end(), std::make_move_iterator(unstarted.begin()),
                       std::make_move_iterator(unstarted.end()));
}

void Producer::release_unfinished() {
  // Attempts whose handler returned are not released: their outcomes (held back by a retry
  // delay, or handed over since the last flush) are recorded first. Releasing one would
  // requeue a task that already ran, and fencing would then discard its outcome.
  std::exception_ptr flush_failure;
  if (!m_unfinished_released) {
    m_unfinished_released = true;
    const std::lock_guard lock(m_outcomes_mutex);
    m_outcomes_not_before = Clock::now(); // the grace period is over: no more waiting
  }
  try {
    flush_outcomes();
  } catch (...) {
    flush_failure = std::current_exception(); // the unfinished ones go back all the same
  }
  Fences back;
  for (const auto& held : m_in_flight.snapshot()) {
    if (held.attempt->finished.load()) {
      continue;
    }
    held.attempt->stop.store(true);
    back.add(held.id, held.attempt->claim);
  }
  if (!back.ids.empty()) {
    const db::Result released =
        m_connection->run(db::queries::k_release, {back.id_array(), back.claim_array()});
    for (std::size_t i = 0; i < back.ids.size(); ++i) {
      m_in_flight.erase(back.ids[i], back.claims[i]);
    }
    logger()->warn("released {} unfinished task(s) back to the queue", released.text(0, 0));
  }
  if (flush_failure) {
    std::rethrow_exception(flush_failure);
  }
  if (!m_in_flight.empty() &&
      (m_state.cancel_now || Clock::now() >= m_drain_deadline + k_outcome_drain_extra)) {
    logger()->error("{} finished task(s) whose outcomes could not be recorded; they run again "
                    "once their leases expire", m_in_flight.size());
    m_in_flight.clear();
  }
}

void Producer::wait_for_work(Clock::time_point until) {
  // Notifications may already sit in libpq's buffer, read along with a query's result: the
  // server sends those that came in during a claim ahead of its result, so a push that just
  // missed a woken claim which found nothing is heard here, within k_min_wakeup_gap of it.
  // The wait for the gap is therefore decided after taking them, never before: a deadline set
  // without this wake-up would sleep until the next poll, and the push's task with it.
  take_notifications();
  if (m_maybe_more && !m_draining && static_cast<int>(m_in_flight.size()) < slots()) {
    return;
  }
  if (m_notified) {
    const auto claim_at = m_last_empty_claim + k_min_wakeup_gap;
    if (Clock::now() >= claim_at) {
      return;
    }
    until = std::min(until, claim_at);
  }
  const auto timeout = std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now());
  pollfd fds[2] = {{m_connection->socket(), POLLIN, 0}, {m_wake_fd, POLLIN, 0}};
  const int ready = ::poll(
      fds, 2, static_cast<int>(std::clamp<long long>(timeout.count() + 1, 0, 60000)));
  if (ready < 0 && errno != EINTR) {
    throw std::system_error(errno, std::generic_category(), "poll");
  }
  if (fds[1].revents & POLLIN) {
    std::uint64_t count = 0;
    [[maybe_unused]] const auto got = ::read(m_wake_fd, &count, sizeof count);
  }
  if (fds[0].revents & (POLLIN | POLLERR | POLLHUP)) {
    take_notifications();
  }
  if (Clock::now() >= m_next_poll) {
    m_maybe_more = true;
    m_next_poll = next_poll_time();
  }
}

void Producer::sleep_interruptibly(Clock::duration duration) {
  const auto deadline = Clock::now() + duration;
  while (!m_state.finished) {
    m_state.mark_turn();
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) {
      return;
    }
    pollfd fd{m_wake_fd, POLLIN, 0};
    if (::poll(&fd, 1, static_cast<int>(std::min<long long>(left.count(), 1000))) > 0) {
      std::uint64_t count = 0;
      [[maybe_unused]] const auto got = ::read(m_wake_fd, &count, sizeof count);
    }
    // A signal (not a finished task) cuts the wait short, so that shutdown is prompt.
    if (m_state.drain && (!m_draining || m_state.cancel_now)) {
      return;
    }
  }
}

} // namespace pgtq::queue
