#include "queue/lease_keeper.hpp"

#include "db/pg_error.hpp"
#include "db/queries.hpp"
#include "queue/backoff.hpp"
#include "queue/fences.hpp"
#include "queue/log_context.hpp"
#include "queue/queue_logger.hpp"
#include "queue/sessions.hpp"

#include <pgtq/client/statement.hpp>

#include <spdlog/spdlog.h>

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <system_error>

namespace pgtq::queue {

LeaseKeeper::LeaseKeeper(const LeaseKeeperSettings& config, InFlightTasks& in_flight)
    : m_config(config), m_in_flight(in_flight), m_registry(config) {
  m_wake_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  m_soon_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  m_fence_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (m_wake_fd < 0 || m_soon_fd < 0 || m_fence_fd < 0) {
    const int error = errno;
    for (const int fd : {m_wake_fd, m_soon_fd, m_fence_fd}) {
      if (fd >= 0) {
        ::close(fd);
      }
    }
    throw std::system_error(error, std::generic_category(), "eventfd");
  }
}

LeaseKeeper::~LeaseKeeper() {
  stop();
  ::close(m_wake_fd);
  ::close(m_soon_fd);
  ::close(m_fence_fd);
}

void LeaseKeeper::renew_soon() {
  const std::uint64_t one = 1;
  // A full counter (EAGAIN) already means "soon".
  [[maybe_unused]] const auto written = ::write(m_soon_fd, &one, sizeof one);
}

void LeaseKeeper::start() {
  if (m_registry.rescued_early()) {
    // No claims until the registry names this session: a row left by a pgtqd that died under
    // the same worker-name may be swept meanwhile, and its sweep would take tasks claimed
    // before its note for the dead one's. The first beat comes at once.
    m_in_flight.fence(Clock::time_point{});
    m_fenced = true;
  }
  m_thread = std::thread([this] {
    set_thread_queue(m_config.queue);
    run();
  });
  m_expiry_thread = std::thread([this] {
    set_thread_queue(m_config.queue);
    watch_expiry();
  });
}

void LeaseKeeper::stop() {
  m_stopping = true;
  const std::uint64_t one = 1;
  [[maybe_unused]] const auto written = ::write(m_wake_fd, &one, sizeof one);
  if (m_thread.joinable()) {
    m_thread.join();
    // The renewing thread has ended: its connection is this thread's now.
    if (m_connection) {
      m_registry.leave(*m_connection);
    }
  }
  if (m_expiry_thread.joinable()) {
    m_expiry_thread.join();
  }
}

void LeaseKeeper::run() {
  const Clock::duration interval = m_config.heartbeat;
  RetryBackoff backoff(std::chrono::milliseconds(250),
                       std::chrono::duration_cast<std::chrono::milliseconds>(interval));
  bool healthy = true;
  auto next_beat = Clock::now();
  auto last_beat = Clock::time_point{};
  while (!m_stopping) {
    std::uint64_t asked = 0;
    if (::read(m_soon_fd, &asked, sizeof asked) == sizeof asked && healthy) {
      next_beat = std::min(next_beat, std::max(Clock::now(), last_beat + k_soonest_renewal));
    }
    if (m_connection && !session_alive()) {
      // Ended between beats (pg_terminate_backend, a pooler's restart): other daemons may
      // rescue this one's tasks after the session grace, so connect again now, not at the
      // next heartbeat.
      logger()->warn("the lease renewals' database session ended; connecting again");
      lose_session();
      next_beat = Clock::now();
    }
    if (Clock::now() >= next_beat) {
      try {
        if (!m_connection) {
          m_connection.emplace(
              m_config.dsn, application_name(m_config, "lease"), lease_session(m_config.heartbeat));
          m_connection->use_prepared_statements(m_config.prepared_statements);
        }
        last_beat = Clock::now();
        // The registry first: from the moment it names this session, no daemon rescues
        // this one's tasks early.
        register_worker();
        renew();
        if (!healthy) {
          logger()->info("lease renewals work again");
        }
        healthy = true;
        backoff.reset();
        // Fenced: the row must name this session before the fence passes, so try again soon.
        next_beat =
            Clock::now() +
            (m_fenced ? std::min<Clock::duration>(interval, m_config.session_grace / 8) : interval);
      } catch (const std::exception& error) {
        // A lost or read-only session is replaced: at once the first time (a session that
        // merely ended is back within moments), then with jittered backoff. Anything else (a
        // timeout, a lock) leaves a live session, which the registry names: dropping it would
        // fence the tasks for nothing, so it is kept and asked again.
        if (healthy) {
          logger()->warn("cannot renew leases: {}; retrying, and stopping any task whose "
                         "lease runs out meanwhile",
                         error.what());
        }
        const auto* failure = dynamic_cast<const db::PgError*>(&error);
        const bool first = healthy;
        healthy = false;
        if (!m_connection || !failure || failure->is_connection_error() ||
            failure->is_read_only() || !m_connection->is_ok()) {
          lose_session();
        }
        auto delay =
            first ? Clock::duration::zero() : std::min<Clock::duration>(backoff.next(), interval);
        if (m_fenced) {
          // The fence passes at three quarters of the grace: try often enough to beat it.
          delay = std::min<Clock::duration>(delay, m_config.session_grace / 8);
        }
        next_beat = Clock::now() + delay;
      }
    }
    wait_until(next_beat, true);
  }
}

bool LeaseKeeper::session_alive() {
  try {
    m_connection->take_notifications(); // reads what arrived: an error, or the end
  } catch (const db::PgError&) {
    return false;
  }
  return m_connection->is_ok();
}

void LeaseKeeper::lose_session() {
  m_connection.reset();
  if (m_registry.rescued_early() && m_registry.names_session() && !m_fenced) {
    // The registry names the session that ended: from its grace on, other daemons may
    // rescue these tasks. Their handlers stop a quarter of the grace before, unless the row
    // names a new session by then; a worker process is killed at once (Attempt::fenced).
    m_in_flight.fence(Clock::now() + m_config.session_grace * 3 / 4);
    m_fenced = true;
    const std::uint64_t one = 1;
    [[maybe_unused]] const auto written = ::write(m_fence_fd, &one, sizeof one);
  }
  m_registry.new_session();
}

void LeaseKeeper::register_worker() {
  try {
    m_registry.beat(*m_connection);
    if (m_fenced && m_registry.names_session()) {
      m_in_flight.fence(std::nullopt);
      m_fenced = false;
      if (!m_starting) {
        logger()->info("the registry of workers names this pgtqd's new session: its tasks run "
                       "on");
      }
    }
    m_starting = false;
    if (m_registry_failing) {
      logger()->info("the registry of workers (pgtq.workers) is written again");
    }
    m_registry_failing = false;
  } catch (const db::PgError& error) {
    if (error.is_connection_error() || error.is_read_only()) {
      throw; // the lease renewals' retry takes over, on a new session
    }
    // Leases go on without it: operators lose a row, tasks lose nothing; unless the row still
    // names a session that ended (fenced): then the fence stays until a write works. A row
    // never written names no session of this pgtqd: claims may start (the start's fence).
    if (m_fenced && !m_registry.written()) {
      m_in_flight.fence(std::nullopt);
      m_fenced = false;
    }
    m_starting = false;
    if (!m_registry_failing) {
      if (m_fenced) {
        logger()->error("cannot write this worker's row in pgtq.workers from its new session "
                        "({}): other pgtqd will take it for gone and rescue its tasks, so they "
                        "stop, and claims wait until the row can be written",
                        error.what());
      } else {
        logger()->warn("cannot write this worker's row in pgtq.workers: {}", error.what());
      }
    }
    m_registry_failing = true;
  }
}

void LeaseKeeper::watch_expiry() {
  // Never touches libpq: the renewing thread may be blocked in it (a connect, a renewal
  // waiting on a partitioned network) long after a lease ran out.
  while (!m_stopping) {
    stop_expired();
    // At most a second, so that a task claimed meanwhile is watched long before its lease
    // (at least a second) can run out.
    auto until = Clock::now() + std::chrono::seconds(1);
    if (const auto expiry = m_in_flight.next_expiry()) {
      until = std::min(until, *expiry);
    }
    wait_for_expiry(until);
  }
}

void LeaseKeeper::renew() {
  const auto held = m_in_flight.snapshot();
  if (held.empty()) {
    return;
  }
  Fences fences;
  for (const auto& task : held) {
    fences.add(task.id, task.attempt->claim);
  }
  const std::string lease = pgtq::detail::interval_text(
      std::chrono::duration_cast<std::chrono::microseconds>(m_config.lease));
  const auto sent = Clock::now();
  const db::Result rows =
      m_connection->run(db::queries::k_heartbeat, {fences.id_array(), fences.claim_array(), lease});
  const auto lease_until = sent + m_config.lease;
  for (int row = 0; row < rows.rows(); ++row) {
    const std::int64_t id = rows.int64(row, 0);
    const std::string status = rows.string(row, 1);
    // The attempt asked about, not whatever holds the id now: a task retried at once may
    // have been claimed again meanwhile, and "lost" about the old claim is not about it.
    // The snapshot is in id order.
    const auto asked = std::lower_bound(
        held.begin(), held.end(), id, [](const InFlightTasks::Held& task, std::int64_t key) {
          return task.id < key;
        });
    if (asked == held.end() || asked->id != id) {
      continue;
    }
    const auto& attempt = asked->attempt;
    if (status == "renewed" || status == "cancel") {
      m_in_flight.renewed(id, attempt->claim, lease_until);
    }
    if (status == "cancel") {
      attempt->cancelled = true;
      if (!attempt->stop.exchange(true)) {
        logger()->info("task {}: cancellation requested; asking its handler to stop", id);
      }
    } else if (status == "lost") {
      if (attempt->finished.load()) {
        // Its handler has returned: nothing to stop. Most often its own outcome, recorded
        // while this renewal was in flight, made it lost; if a rescue came first, the
        // recorder reports that outcome as discarded.
        SPDLOG_LOGGER_DEBUG(logger(), "task {}: lease lost after its handler returned", id);
        continue;
      }
      if (!attempt->stop.exchange(true)) {
        logger()->warn("task {}: lease lost (the task was rescued or finished elsewhere); "
                       "asking its handler to stop",
                       id);
      }
    } else if (status == "busy") {
      SPDLOG_LOGGER_DEBUG(logger(),
                          "task {}: row locked by another session; lease not "
                          "renewed this time",
                          id);
    }
  }
}

void LeaseKeeper::stop_expired() {
  for (const std::int64_t id : m_in_flight.stop_expired(Clock::now())) {
    const auto attempt = m_in_flight.find(id);
    if (attempt && attempt->fenced.load()) {
      logger()->warn("task {}: this pgtqd's database session ended and it could not register "
                     "a new one within three quarters of session-grace; stopping the task, "
                     "since another daemon may rescue it now",
                     id);
    } else {
      logger()->warn("task {}: its lease ran out before it could be renewed; asking its "
                     "handler to stop, since another daemon may run it now",
                     id);
    }
  }
}

void LeaseKeeper::wait_for_expiry(Clock::time_point deadline) {
  const auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  if (m_stopping || left <= 0) {
    return;
  }
  // A fence set meanwhile comes sooner than what this wait was computed for.
  pollfd fds[2] = {{m_wake_fd, POLLIN, 0}, {m_fence_fd, POLLIN, 0}};
  ::poll(fds, 2, static_cast<int>(std::min<long long>(left + 1, 60000)));
  std::uint64_t count = 0;
  [[maybe_unused]] const auto read = ::read(m_fence_fd, &count, sizeof count);
}

void LeaseKeeper::wait_until(Clock::time_point deadline, bool watch_session) {
  while (!m_stopping) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) {
      return;
    }
    // The renewing thread also watches its session's socket: an idle session that ends
    // (the server sends its reason, then closes) makes it readable at once.
    const int session = watch_session && m_connection ? m_connection->socket() : -1;
    pollfd fds[3] = {{m_wake_fd, POLLIN, 0}, {m_soon_fd, POLLIN, 0}, {session, POLLIN, 0}};
    // A failed poll (EINTR) only ends this wait early.
    ::poll(fds, session >= 0 ? 3 : 2, static_cast<int>(std::min<long long>(left + 1, 60000)));
    if ((fds[1].revents & POLLIN) || (fds[2].revents & (POLLIN | POLLHUP | POLLERR))) {
      return; // run() reads it and renews soon, or finds the session gone
    }
  }
}

} // namespace pgtq::queue
