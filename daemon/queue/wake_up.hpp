#pragma once

#include "db/connection.hpp"
#include "queue/settings.hpp"

#include <atomic>
#include <chrono>
#include <functional>
#include <optional>
#include <string>

namespace pgtq::queue {

// How a loop of the queue runtime (the claim loop, the scheduler) waits for work: until
// another thread interrupts it (an eventfd), a notification on its LISTEN channel arrives,
// or its poll timer, the backstop for lost notifications, runs out.
//
// Anyone who may connect may NOTIFY the channel, so notifications are coalesced: they set
// one pending wake-up, and after hold_back() a pending wake-up acts no sooner than min_gap
// later. A flood of notifications thus makes a bounded number of claims or ticks.
//
// Threads: interrupt() from any thread; everything else from the owner's thread only.
class WakeUp {
public:
  using Clock = std::chrono::steady_clock;
  // Notifications on other channels of the same connection (say, cancellations).
  using OtherNotification = std::function<void(const db::Notification&)>;

  struct Settings {
    std::string channel;                // LISTEN channel of the wake-ups
    std::optional<std::string> payload; // if set, only notifications with this payload count
    Duration poll_interval{};           // the poll timer, jittered by ±10 %
    Duration min_gap{};                 // see hold_back()
  };

  explicit WakeUp(Settings settings, OtherNotification on_other = {});
  ~WakeUp();
  WakeUp(const WakeUp&) = delete;
  WakeUp& operator=(const WakeUp&) = delete;

  // Any thread: ends the owner's current wait, or its next one, at once.
  void interrupt();

  // LISTENs on the channel (the caller LISTENs on any other channel it wants).
  void listen(db::Connection& connection) const;
  // The LISTEN drain: takes the notifications received on the connection; with read_socket
  // false, only those libpq already read along with earlier results (no system call).
  void take(db::Connection& connection, bool read_socket = true);

  // Whether a wake-up is pending and its gap has passed; if so it is consumed.
  bool take_pending();
  // The owner acted without finding anything (a woken claim) or acts now (a tick): pending
  // wake-ups are consumed, and the next ones act no sooner than min_gap from now.
  void hold_back();

  // Restarts the poll timer (now + the jittered interval) and returns when it runs out.
  Clock::time_point arm_poll();
  Clock::time_point next_poll() const { return m_next_poll; }
  // Whether the poll timer ran out; if so it is restarted.
  bool poll_due();

  // One wait, until an interrupt, a notification on `listening` (none: nullptr), the end
  // of a pending wake-up's gap, or `until`; false if it did not wait, a pending wake-up
  // being due already. Take the notifications libpq may already hold (take()) before: poll()
  // cannot see them. Throws if poll() fails.
  bool wait(db::Connection* listening, Clock::time_point until);
  // One wait for an interrupt only, at most until `until`.
  void sleep(Clock::time_point until);

private:
  void clear_interrupt();

  const Settings m_settings;
  const OtherNotification m_on_other;
  const int m_fd; // eventfd: written by interrupt() (any thread), read by the owner
  // Set by interrupt() before it writes, cleared by the owner after it read the eventfd: a
  // write the owner has not taken yet makes further interrupts skip theirs (one wake-up,
  // not one per finished task).
  std::atomic<bool> m_interrupted{false};
  bool m_pending = false;
  Clock::time_point m_held_until; // a pending wake-up acts from then on
  Clock::time_point m_next_poll;
};

} // namespace pgtq::queue
