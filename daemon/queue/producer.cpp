#include "queue/producer.hpp"

#include "db/pg_error.hpp"
#include "db/queries.hpp"
#include "queue/outcome_batch.hpp"

#include <pgtq/client/pg_array.hpp>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <random>

namespace pgtq::queue {
namespace {

constexpr auto k_max_reconnect_delay = std::chrono::seconds(30);
constexpr auto k_first_reconnect_delay = std::chrono::milliseconds(250);
// Marks a failure outcome made because the real one could not be recorded (result unused).
constexpr const char* k_unrecordable = "\"unrecordable\"";

std::shared_ptr<spdlog::logger> logger() {
  auto found = spdlog::get("queue");
  return found ? found : spdlog::default_logger();
}

std::string interval_text(app::Seconds seconds) {
  char text[64];
  std::snprintf(text, sizeof text, "%.3f seconds", seconds.count());
  return text;
}

// (id, claim) pairs, passed to the protocol functions as two array parameters.
struct Fences {
  std::vector<std::int64_t> ids;
  std::vector<std::int64_t> claims;

  void add(std::int64_t id, std::int64_t claim) {
    ids.push_back(id);
    claims.push_back(claim);
  }
  std::string id_array() const { return pgtq::detail::pg_integer_array(ids); }
  std::string claim_array() const { return pgtq::detail::pg_integer_array(claims); }
};

double jitter_factor() {
  thread_local std::mt19937 generator{std::random_device{}()};
  return std::uniform_real_distribution<double>(0.9, 1.1)(generator);
}

} // namespace

Producer::Producer(const app::Config& config, const plugin::HandlerRegistry& registry,
                   app::DaemonState& state)
    : m_config(config), m_state(state), m_executor(registry),
      m_task_names(pgtq::detail::pg_text_array(registry.names())), m_worker_name(config.worker_name),
      m_reconnect_delay(k_first_reconnect_delay) {
  m_wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (m_wake_fd < 0) {
    throw std::system_error(errno, std::generic_category(), "eventfd");
  }
  m_pool = std::make_unique<WorkerPool>(
      config.concurrency, m_executor,
      [this](Outcome&& outcome) { note_outcome(std::move(outcome)); }, state.busy);
}

Producer::~Producer() {
  m_pool->shutdown();
  m_pool.reset();
  ::close(m_wake_fd);
}

void Producer::wake() {
  const std::uint64_t one = 1;
  // A full counter (EAGAIN) already means "wake up"; nothing else can fail here.
  [[maybe_unused]] const auto written = ::write(m_wake_fd, &one, sizeof one);
}

void Producer::note_outcome(Outcome&& outcome) {
  {
    const std::lock_guard lock(m_outcomes_mutex);
    m_outcomes.push_back(std::move(outcome));
  }
  wake();
}

Producer::Clock::time_point Producer::next_poll_time() const {
  // Jitter keeps many idle daemons from polling in lockstep.
  return Clock::now() + std::chrono::duration_cast<Clock::duration>(m_config.poll_interval *
                                                                    jitter_factor());
}

void Producer::connect() {
  m_connection.emplace(m_config.dsn, "pgtqd");
  m_connection->use_prepared_statements(m_config.prepared_statements);
  m_connection->listen("pgtq_wakeup");
  // Outcomes are recorded on a connection of their own, so that recording a batch and
  // claiming the next tasks run at once on two server backends (flush_outcomes).
  m_completer.emplace(m_config.dsn, "pgtqd-completer");
  m_completer->use_prepared_statements(m_config.prepared_statements);
  m_state.db_connected = true;
  m_reconnect_delay = k_first_reconnect_delay;
  m_maybe_more = true; // whatever was pushed while we were away
  m_next_heartbeat = Clock::now();
  if (!m_state.ready.exchange(true)) {
    logger()->info("queue \"{}\": {} workers, listening as {}", m_config.queue,
                   m_config.concurrency, m_worker_name);
  } else {
    logger()->info("database connection re-established");
  }
}

void Producer::run() {
  m_next_poll = next_poll_time();
  while (!m_state.finished) {
    m_state.mark_turn();
    try {
      if (!m_connection) {
        connect();
      }
      turn();
    } catch (const db::PgError& error) {
      if (!error.is_connection_error() && m_connection && m_connection->is_ok() &&
          m_completer && m_completer->is_ok()) {
        logger()->error("{}", error.what());
        sleep_interruptibly(std::chrono::seconds(1)); // a persistent error must not spin
        continue;
      }
      if (m_state.db_connected.exchange(false) || !m_state.ready) {
        logger()->warn("database unavailable: {}; retrying with backoff, running tasks go on",
                       error.what());
      }
      m_connection.reset();
      m_completer.reset();
      // A stop requested while the database is away must end the process all the same.
      start_draining_if_asked();
      if (m_draining && (m_in_flight.empty() || m_state.cancel_now ||
                         Clock::now() >= m_drain_deadline)) {
        if (!m_in_flight.empty()) {
          logger()->error("cannot release {} unfinished task(s) without the database; they "
                          "run again once their lease expires",
                          m_in_flight.size());
        }
        m_state.finished = true;
        break;
      }
      sleep_interruptibly(m_draining ? std::min(m_reconnect_delay, m_drain_deadline - Clock::now())
                                     : m_reconnect_delay);
      m_reconnect_delay = std::min<Clock::duration>(m_reconnect_delay * 2, k_max_reconnect_delay);
    } catch (const std::exception& error) {
      logger()->error("producer: {}", error.what());
      sleep_interruptibly(std::chrono::seconds(1));
    }
  }
}

void Producer::turn() {
  const auto now = Clock::now();
  start_draining_if_asked();
  if (m_draining && !m_unstarted_released) {
    release_unstarted();
    m_unstarted_released = true;
  }

  const bool claimed = flush_outcomes();

  if (m_draining && !m_in_flight.empty() && (m_state.cancel_now || now >= m_drain_deadline)) {
    release_unfinished();
  }
  if (m_draining && m_in_flight.empty()) {
    m_state.finished = true;
    return;
  }

  if (now >= m_next_heartbeat) {
    heartbeat();
    m_next_heartbeat = now + std::chrono::duration_cast<Clock::duration>(m_config.heartbeat);
  }

  const int free_slots = slots() - static_cast<int>(m_in_flight.size());
  if (!claimed && wants_claim() && free_slots > 0) {
    claim(free_slots);
  }

  auto until = std::min(m_next_heartbeat, m_next_poll);
  if (m_draining) {
    until = std::min(until, m_drain_deadline);
  }
  if (!m_maybe_more || free_slots <= 0 || m_draining) {
    wait_for_work(until);
  }
}

db::Result Producer::run_claim(int count) {
  return m_connection->run(db::queries::k_claim,
                           {m_config.queue, m_task_names, std::to_string(count), m_worker_name,
                            interval_text(m_config.lease)});
}

void Producer::claim(int count) { dispatch(run_claim(count), count); }

void Producer::dispatch(const db::Result& rows, int requested) {
  int claimed = 0;
  for (int row = 0; row < rows.rows(); ++row) {
    ClaimedTask task;
    task.id = rows.int64(row, 0);
    task.claim = rows.int64(row, 1);
    task.name = rows.string(row, 2);
    task.args = rows.string(row, 3);
    task.attempt = static_cast<std::int32_t>(rows.int64(row, 4));
    task.max_attempts = static_cast<std::int32_t>(rows.int64(row, 5));
    auto stop = std::make_shared<std::atomic<bool>>(false);
    m_in_flight[task.id] = InFlight{task.claim, stop};
    SPDLOG_LOGGER_DEBUG(logger(), "task {} ({}) attempt {}/{} claimed", task.id, task.name,
                        task.attempt, task.max_attempts);
    m_pool->submit(std::move(task), std::move(stop));
    ++claimed;
  }
  m_maybe_more = claimed == requested; // a full batch: more may be waiting
}

void Producer::start_draining_if_asked() {
  if (!m_state.drain || m_draining) {
    return;
  }
  m_draining = true;
  m_drain_deadline =
      Clock::now() + std::chrono::duration_cast<Clock::duration>(m_config.shutdown_grace);
  logger()->info("stopping: no new claims; {} running task(s) get {:.0f} s to finish",
                 m_in_flight.size(), m_config.shutdown_grace.count());
}

bool Producer::wants_claim() const { return !m_draining && m_maybe_more; }

bool Producer::flush_outcomes() {
  std::vector<Outcome> batch;
  {
    const std::lock_guard lock(m_outcomes_mutex);
    batch.swap(m_outcomes);
  }
  if (batch.empty()) {
    return false;
  }
  // The workers of these outcomes are free again: claim their next tasks on the main
  // connection while the completer records the outcomes. The two statements touch disjoint
  // rows (running ones, queued ones), run on two backends at once, and their commits (one
  // WAL flush each) overlap instead of queueing behind each other.
  const int free_slots =
      slots() - static_cast<int>(m_in_flight.size()) + static_cast<int>(batch.size());
  const int wanted = wants_claim() ? std::max(free_slots, 0) : 0;
  try {
    m_completer->send(db::queries::k_finish_many, {encode_outcomes(batch)});
  } catch (...) {
    keep_for_later(batch);
    throw;
  }
  std::optional<db::Result> claimed;
  std::exception_ptr claim_failure;
  if (wanted > 0) {
    try {
      claimed.emplace(run_claim(wanted));
    } catch (...) {
      claim_failure = std::current_exception(); // after the outcomes are dealt with
    }
  }
  // Claimed tasks are this daemon's whatever becomes of the outcomes: they run either way.
  const auto run_claimed = [&] {
    if (claimed) {
      dispatch(*claimed, wanted);
    }
  };

  bool recorded = false;
  try {
    const db::Result discarded = m_completer->receive(db::queries::k_finish_many);
    std::vector<std::int64_t> lost;
    for (int row = 0; row < discarded.rows(); ++row) {
      lost.push_back(discarded.int64(row, 0));
    }
    settle(batch, lost);
    recorded = true;
  } catch (const db::PgError& error) {
    if (error.is_connection_error()) {
      keep_for_later(batch);
      run_claimed();
      throw;
    }
    logger()->warn("recording {} outcome(s) failed ({}); recording them one by one",
                   batch.size(), error.what());
  }
  run_claimed();
  if (!recorded) {
    try {
      record(batch);
    } catch (...) {
      keep_for_later(batch);
      throw;
    }
  }
  if (claim_failure) {
    std::rethrow_exception(claim_failure);
  }
  return claimed.has_value();
}

void Producer::keep_for_later(std::vector<Outcome>& batch) {
  // Recorded after the reconnect, ahead of newer ones; fencing makes a late record safe.
  const std::lock_guard lock(m_outcomes_mutex);
  m_outcomes.insert(m_outcomes.begin(), std::make_move_iterator(batch.begin()),
                    std::make_move_iterator(batch.end()));
}

void Producer::record(const std::vector<Outcome>& batch) {
  db::Result discarded(nullptr);
  try {
    discarded = m_connection->run(db::queries::k_finish_many, {encode_outcomes(batch)});
  } catch (const db::PgError& error) {
    if (error.is_connection_error()) {
      throw;
    }
    if (batch.size() > 1) {
      // One bad outcome must not hold the others back: record them one by one.
      for (const Outcome& outcome : batch) {
        record({outcome});
      }
      return;
    }
    const Outcome& refused = batch.front();
    if (refused.status == OutcomeStatus::fail && refused.result == k_unrecordable) {
      logger()->error("task {}: cannot record even a failure ({}); its lease will expire and "
                      "it will be retried", refused.id, error.what());
      m_in_flight.erase(refused.id);
      return;
    }
    // The database itself refuses this outcome (say, a result jsonb cannot hold): record
    // the attempt as failed, with the reason, instead of retrying it forever.
    Outcome failure = refused;
    failure.status = OutcomeStatus::fail;
    failure.result = k_unrecordable;
    failure.error = std::string("pgtqd could not record the outcome: ") + error.what();
    logger()->error("task {}: {}", failure.id, failure.error);
    record({failure});
    return;
  }

  std::vector<std::int64_t> lost;
  for (int row = 0; row < discarded.rows(); ++row) {
    lost.push_back(discarded.int64(row, 0));
  }
  settle(batch, lost);
}

void Producer::settle(const std::vector<Outcome>& batch, const std::vector<std::int64_t>& lost) {
  for (const Outcome& outcome : batch) {
    // Only this attempt: a task retried at once may already be claimed again, under a newer
    // claim, by a claim that ran beside the recording.
    const auto held = m_in_flight.find(outcome.id);
    if (held != m_in_flight.end() && held->second.claim == outcome.claim) {
      m_in_flight.erase(held);
    }
    if (std::find(lost.begin(), lost.end(), outcome.id) != lost.end()) {
      ++m_state.discarded;
      logger()->warn("task {}: outcome \"{}\" discarded: its lease was lost and the task was "
                     "handed to another attempt",
                     outcome.id, to_string(outcome.status));
    } else if (outcome.status == OutcomeStatus::done) {
      ++m_state.succeeded;
    } else if (outcome.status != OutcomeStatus::snooze) {
      ++m_state.failed;
      logger()->warn("task {} failed ({}): {}", outcome.id, to_string(outcome.status),
                     outcome.error);
    }
  }
}

void Producer::heartbeat() {
  if (m_in_flight.empty()) {
    return;
  }
  Fences held;
  for (const auto& [id, flight] : m_in_flight) {
    held.add(id, flight.claim);
  }
  const db::Result stop = m_connection->run(
      db::queries::k_heartbeat,
      {held.id_array(), held.claim_array(), interval_text(m_config.lease)});
  for (int row = 0; row < stop.rows(); ++row) {
    const std::string status = stop.string(row, 1);
    if (status != "lost" && status != "cancel") {
      continue; // renewed, or busy (row locked elsewhere: renewed at the next heartbeat)
    }
    const auto found = m_in_flight.find(stop.int64(row, 0));
    if (found != m_in_flight.end() && !found->second.stop->exchange(true)) {
      logger()->warn("task {}: lease lost or cancellation requested; asking its handler to stop",
                     found->first);
    }
  }
}

void Producer::release_unstarted() {
  std::vector<ClaimedTask> unstarted = m_pool->take_unstarted();
  if (unstarted.empty()) {
    return;
  }
  Fences back;
  for (const ClaimedTask& task : unstarted) {
    back.add(task.id, task.claim);
  }
  // If this fails they stay in flight and go back with the unfinished ones at the end.
  m_connection->run(db::queries::k_release, {back.id_array(), back.claim_array()});
  for (const std::int64_t id : back.ids) {
    m_in_flight.erase(id);
  }
  logger()->info("released {} prefetched task(s) that had not started", back.ids.size());
}

void Producer::release_unfinished() {
  Fences back;
  for (const auto& [id, flight] : m_in_flight) {
    flight.stop->store(true);
    back.add(id, flight.claim);
  }
  const db::Result released =
      m_connection->run(db::queries::k_release, {back.id_array(), back.claim_array()});
  logger()->warn("released {} unfinished task(s) back to the queue", released.text(0, 0));
  m_in_flight.clear();
}

void Producer::wait_for_work(Clock::time_point until) {
  // Notifications may already sit in libpq's buffer, read along with a query's result.
  for (const db::Notification& note : m_connection->take_notifications()) {
    if (note.payload == m_config.queue) {
      m_maybe_more = true;
    }
  }
  if (m_maybe_more && !m_draining &&
      static_cast<int>(m_in_flight.size()) < slots()) {
    return;
  }
  const auto timeout = std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now());
  pollfd fds[2] = {{m_connection->socket(), POLLIN, 0}, {m_wake_fd, POLLIN, 0}};
  const int ready = ::poll(fds, 2, static_cast<int>(std::max<long long>(timeout.count() + 1, 0)));
  if (ready < 0 && errno != EINTR) {
    throw std::system_error(errno, std::generic_category(), "poll");
  }
  if (fds[1].revents & POLLIN) {
    std::uint64_t count = 0;
    [[maybe_unused]] const auto got = ::read(m_wake_fd, &count, sizeof count);
  }
  if (fds[0].revents & (POLLIN | POLLERR | POLLHUP)) {
    for (const db::Notification& note : m_connection->take_notifications()) {
      if (note.payload == m_config.queue) {
        m_maybe_more = true;
      }
    }
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
