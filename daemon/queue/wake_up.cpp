#include "queue/wake_up.hpp"

#include "queue/backoff.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <system_error>

namespace pgtq::queue {
namespace {

int new_eventfd() {
  const int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (fd < 0) {
    throw std::system_error(errno, std::generic_category(), "eventfd");
  }
  return fd;
}

// poll()'s timeout for a wait until `until`: one millisecond more, so that the wait does not
// end just before the deadline and spin once more; at most a minute.
int timeout_ms(WakeUp::Clock::time_point until, long long cap_ms) {
  const auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(until - WakeUp::Clock::now());
  return static_cast<int>(std::clamp<long long>(left.count() + 1, 0, cap_ms));
}

} // namespace

WakeUp::WakeUp(Settings settings, OtherNotification on_other)
    : m_settings(std::move(settings)), m_on_other(std::move(on_other)), m_fd(new_eventfd()) {
  arm_poll();
}

WakeUp::~WakeUp() {
  ::close(m_fd);
}

void WakeUp::interrupt() {
  if (m_interrupted.exchange(true)) {
    return; // written since the owner last cleared it: it wakes up anyway
  }
  const std::uint64_t one = 1;
  // A full counter (EAGAIN) already means "wake up"; nothing else can fail here.
  [[maybe_unused]] const auto written = ::write(m_fd, &one, sizeof one);
}

void WakeUp::clear_interrupt() {
  std::uint64_t count = 0;
  [[maybe_unused]] const auto got = ::read(m_fd, &count, sizeof count);
  // After the read: an interrupt() from here on writes again. One that skipped its write
  // since (the flag was still up) announced what the caller looks at after this returns:
  // the flag's store and the caller's next lock order it before that look.
  m_interrupted.store(false);
  std::atomic_thread_fence(std::memory_order_seq_cst);
}

void WakeUp::listen(db::Connection& connection) const {
  connection.listen(m_settings.channel);
}

void WakeUp::take(db::Connection& connection, bool read_socket) {
  for (const db::Notification& note : connection.take_notifications(read_socket)) {
    if (note.channel != m_settings.channel) {
      if (m_on_other) {
        m_on_other(note);
      }
    } else if (!m_settings.payload || note.payload == *m_settings.payload) {
      m_pending = true;
    }
  }
}

bool WakeUp::take_pending() {
  if (!m_pending || Clock::now() < m_held_until) {
    return false;
  }
  m_pending = false;
  return true;
}

void WakeUp::hold_back() {
  m_pending = false;
  m_held_until = Clock::now() + m_settings.min_gap;
}

WakeUp::Clock::time_point WakeUp::arm_poll() {
  // Jitter keeps many idle daemons from polling (or ticking) in lockstep.
  m_next_poll = Clock::now() + std::chrono::duration_cast<Clock::duration>(
                                   m_settings.poll_interval * (0.9 + 0.2 * random01()));
  return m_next_poll;
}

bool WakeUp::poll_due() {
  if (Clock::now() < m_next_poll) {
    return false;
  }
  arm_poll();
  return true;
}

bool WakeUp::wait(db::Connection* listening, Clock::time_point until) {
  if (m_pending) {
    // The wait for the gap is decided here, after the caller took the notifications libpq
    // held: a deadline set without this wake-up would sleep until the next poll.
    if (Clock::now() >= m_held_until) {
      return false;
    }
    until = std::min(until, m_held_until);
  }
  pollfd fds[2] = {{m_fd, POLLIN, 0}, {listening ? listening->socket() : -1, POLLIN, 0}};
  const int ready = ::poll(fds, listening ? 2 : 1, timeout_ms(until, 60000));
  if (ready < 0 && errno != EINTR) {
    throw std::system_error(errno, std::generic_category(), "poll");
  }
  if (fds[0].revents & POLLIN) {
    clear_interrupt();
  }
  if (listening && (fds[1].revents & (POLLIN | POLLERR | POLLHUP))) {
    take(*listening);
  }
  return true;
}

void WakeUp::sleep(Clock::time_point until) {
  pollfd fd{m_fd, POLLIN, 0};
  if (::poll(&fd, 1, timeout_ms(until, 1000)) > 0) {
    clear_interrupt();
  }
}

} // namespace pgtq::queue
