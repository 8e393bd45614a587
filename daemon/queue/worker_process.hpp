#pragma once

#include "plugin/plugin_directory.hpp"
#include "plugin/plugin_loader.hpp"
#include "queue/settings.hpp"
#include "queue/stop_page.hpp"
#include "queue/worker_protocol.hpp"

#include <sys/types.h>

#include <chrono>
#include <cstddef>
#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace pgtq::queue {

// A worker process could not be started; the message says why (spawn failed, its plugins
// did not load, it died or did not answer in time).
class WorkerStartError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

// pgtqd's end of one worker process (isolation = process): started with posix_spawn as
// `EXECUTABLE --worker-process` (an exec of pgtqd's own binary; pgtqd, which has threads, is
// never forked), with its end of a socketpair as descriptor 3, and told what to load in a
// Hello carrying the plugins' private copies. Its argv[0] is its ps title, "pgtqd: worker N
// (queue Q)". With the Hello goes the stop page (StopPage), through which pgtqd stops an
// attempt without a frame. The process dies with its socket: when pgtqd closes it or exits, the
// worker exits too.
//
// Its death is seen by the process itself, not only by end of file on the socket: a child
// the handler forked (system(), popen(), a daemonised helper) may hold the worker's end of
// the socket open long after the worker died. A pidfd (pidfd_open, Linux 5.3) is polled
// beside the socket; without one, waitid(WNOHANG | WNOWAIT) every 50 ms. Either way the
// process is only reaped by reap(), so its pid cannot be reused while this object may
// still signal it.
//
// Threads: one thread uses an instance (the pool thread of its slot); pid() is stable.
class WorkerProcess {
public:
  using Clock = std::chrono::steady_clock;

  // Starts worker `number` (1-based, for logs and ps) with the plugins' private copies
  // (BORROWED for the call) and waits for its Ready, up to
  // start_timeout or until give_up() (polled every 50 ms) returns true. Throws
  // WorkerStartError.
  WorkerProcess(int number,
                const std::string& queue,
                const WorkerProcessSettings& settings,
                const std::vector<plugin::PluginCopyRef>& plugins,
                Clock::duration start_timeout,
                const std::function<bool()>& give_up);
  // Kills and reaps the process unless reap() did.
  ~WorkerProcess();
  WorkerProcess(const WorkerProcess&) = delete;
  WorkerProcess& operator=(const WorkerProcess&) = delete;

  pid_t pid() const { return m_pid; }

  // Sends a message; false when the worker is gone (its end is closed).
  bool send(const worker::Message& message);
  // Sends encoded frames (worker::encode, one after the other) in one write; false when the
  // worker is gone. It blocks while the socket's buffer is full: to a worker that runs a
  // handler (and reads nothing meanwhile), only what fits in hand_ahead_budget() with
  // unread_bytes().
  bool send_frames(const std::string& frames);

  // How many bytes sent to the worker it has not read yet (SIOCOUTQ: what the kernel holds
  // for pgtqd's end, with its bookkeeping), including frames it will skip unread; the
  // maximum when that cannot be known.
  std::size_t unread_bytes() const;
  // How many unread bytes the socket may hold for a worker that reads nothing (it runs a
  // handler) without a write blocking: a quarter of the send buffer, at most
  // k_hand_ahead_bytes.
  std::size_t hand_ahead_budget() const { return m_hand_ahead_budget; }
  // The send buffer asked for on both ends of the socket (the kernel doubles it for its
  // bookkeeping), and the most bytes a busy worker is sent ahead.
  static constexpr int k_socket_buffer = 128 * 1024;
  static constexpr std::size_t k_hand_ahead_bytes = 64 * 1024;

  // Before Run `seq`: its stop flag cleared, its start gate pending (StopPage).
  void open(std::uint32_t seq) { m_stop_page.open(seq); }
  // Raises the stop flag the handler of Run `seq` reads (should_stop()). A store into the
  // shared page, no frame.
  void set_stop(std::uint32_t seq) { m_stop_page.stop(seq); }
  // Takes back Run `seq` if the worker has not started it: true when it never will.
  bool revoke(std::uint32_t seq) { return m_stop_page.revoke(seq); }

  enum class Event { message, timeout, ended };
  // Waits until a message arrives (Event::message, into message), until `until`
  // (Event::timeout) or until the worker died, its end closed or sent what cannot be read
  // (Event::ended: it died or is broken; reap() it). What a worker wrote before it died is
  // returned first.
  Event wait(Clock::time_point until, std::optional<worker::Message>& message);

  // Whether the worker ended while idle, without waiting (messages that came meanwhile are
  // dropped).
  bool ended();

  // Kills the process (SIGKILL) unless it has ended, waits for it and says how it ended:
  // "killed by SIGSEGV", "killed by SIGKILL", "exited with status 1". Once.
  std::string reap();
  // The same, keeping the socket: what the worker wrote before it died can still be read
  // (wait() returns it, then Event::ended), and its start gates no longer change. reap()
  // then closes the socket and says how it ended.
  std::string kill();

  // "killed by SIGSEGV" etc. for a waitpid() status.
  static std::string describe_exit(int status);

private:
  // Whether the process has ended (it stays unreaped), without waiting.
  bool process_ended();
  // Whether the socket has something to read (or its end of file) right now.
  bool socket_readable();

  pid_t m_pid = -1;
  plugin::UniqueFd m_socket;
  plugin::UniqueFd m_pidfd; // -1 where pidfd_open is unavailable
  StopPage m_stop_page;
  std::size_t m_hand_ahead_budget = 0;
  bool m_exited = false; // the process was seen to end; the socket is read out
  worker::FrameReader m_reader;
  bool m_reaped = false;
  std::string m_ended_how;      // once reaped
  std::string m_protocol_error; // why the stream could not be read, if it could not
};

} // namespace pgtq::queue
