#include "queue/worker_process.hpp"

#include "queue/worker_socket.hpp"

#include <linux/sockios.h>

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <system_error>

extern char** environ;

namespace pgtq::queue {
namespace {

constexpr int k_worker_socket_fd = 3; // where the worker finds its end (worker_main)

// Without a pidfd, how often a waiting pool thread asks whether its worker ended.
constexpr auto k_exit_poll = std::chrono::milliseconds(50);

// A pidfd for a child not yet reaped (close-on-exec), or -1 where the kernel (before 5.3) or
// the C library's headers have none.
int open_pidfd(pid_t pid) {
#ifdef SYS_pidfd_open
  const long fd = ::syscall(SYS_pidfd_open, pid, 0);
  if (fd >= 0) {
    return static_cast<int>(fd);
  }
#else
  (void)pid;
#endif
  return -1;
}

// Sends a signal to a child not yet reaped: through its pidfd where there is one.
void send_signal(pid_t pid, int pidfd, int number) {
#ifdef SYS_pidfd_send_signal
  if (pidfd >= 0 && ::syscall(SYS_pidfd_send_signal, pidfd, number, nullptr, 0) == 0) {
    return;
  }
#else
  (void)pidfd;
#endif
  ::kill(pid, number);
}

std::string errno_text(int number) {
  return std::system_category().message(number);
}

// Sets a socket's send buffer to `bytes` (the kernel doubles it, capped by
// net.core.wmem_max) and returns what it is now; 0 if it cannot be read.
std::size_t set_send_buffer(int socket, int bytes) {
  (void)::setsockopt(socket, SOL_SOCKET, SO_SNDBUF, &bytes, sizeof bytes);
  int now = 0;
  socklen_t length = sizeof now;
  if (::getsockopt(socket, SOL_SOCKET, SO_SNDBUF, &now, &length) != 0 || now < 0) {
    return 0;
  }
  return static_cast<std::size_t>(now);
}

// posix_spawn with a clean signal state: pgtqd blocks SIGTERM, SIGINT and SIGHUP in every
// thread (app/signals.cpp), and the worker must not inherit that mask.
pid_t spawn(const std::string& executable, const std::string& title, int child_end) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, child_end, k_worker_socket_fd);
  // Nothing else of pgtqd's (database sockets, other workers' sockets) leaks into the worker,
  // close-on-exec or not.
  posix_spawn_file_actions_addclosefrom_np(&actions, k_worker_socket_fd + 1);
  posix_spawnattr_t attributes;
  posix_spawnattr_init(&attributes);
  sigset_t none;
  sigemptyset(&none);
  sigset_t all;
  sigfillset(&all);
  posix_spawnattr_setsigmask(&attributes, &none);
  posix_spawnattr_setsigdefault(&attributes, &all);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);

  std::string flag = "--worker-process";
  std::string argv0 = title;
  char* argv[] = {argv0.data(), flag.data(), nullptr};
  pid_t pid = -1;
  const int failed = posix_spawn(&pid, executable.c_str(), &actions, &attributes, argv, environ);
  posix_spawnattr_destroy(&attributes);
  posix_spawn_file_actions_destroy(&actions);
  if (failed != 0) {
    throw WorkerStartError("cannot start " + executable + ": " + errno_text(failed));
  }
  return pid;
}

} // namespace

WorkerProcess::WorkerProcess(int number,
                             const std::string& queue,
                             const WorkerProcessSettings& settings,
                             const std::vector<plugin::PluginCopyRef>& plugins,
                             Clock::duration start_timeout,
                             const std::function<bool()>& give_up)
    : m_stop_page([] {
        try {
          return StopPage::create();
        } catch (const std::system_error& error) {
          throw WorkerStartError(std::string("cannot make its stop page: ") + error.what());
        }
      }()) {
  int ends[2] = {-1, -1};
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, ends) != 0) {
    throw WorkerStartError("socketpair: " + errno_text(errno));
  }
  m_socket = plugin::UniqueFd(ends[0]);
  plugin::UniqueFd child_end(ends[1]);
  // Set, not left to the system's default (net.core.wmem_default, 208 KiB on most hosts): the
  // Runs handed ahead to a busy worker are bounded by what pgtqd's end holds (its writes must
  // never block while the worker reads nothing), and the worker's answers by its own end.
  // A host whose limits give less hands ahead less, or nothing.
  const std::size_t send_buffer = set_send_buffer(m_socket.get(), k_socket_buffer);
  (void)set_send_buffer(child_end.get(), k_socket_buffer);
  m_hand_ahead_budget = std::min(send_buffer / 4, k_hand_ahead_bytes);
  if (child_end.get() == k_worker_socket_fd) {
    // dup2() onto itself would keep close-on-exec set: move it out of the way first.
    child_end = plugin::UniqueFd(::fcntl(child_end.get(), F_DUPFD_CLOEXEC, 10));
  }
  m_pid = spawn(settings.executable,
                "pgtqd: worker " + std::to_string(number) + " (queue " + queue + ")",
                child_end.get());
  child_end = plugin::UniqueFd();
  m_pidfd = plugin::UniqueFd(open_pidfd(m_pid));

  worker::Hello hello;
  hello.slot = number;
  hello.queue = queue;
  hello.log_level = settings.log_level;
  hello.plugin_config_dir = settings.plugin_config_dir;
  hello.backoff = settings.default_backoff;
  hello.memory_limit_bytes = settings.memory_limit_bytes;
  std::vector<int> fds{m_stop_page.fd()};
  for (const plugin::PluginCopyRef& copy : plugins) {
    hello.plugin_files.push_back(copy.file);
    fds.push_back(copy.fd);
  }
  auto fail = [&](const std::string& why) -> WorkerStartError {
    const std::string ended = reap();
    return WorkerStartError(why + " (the worker " + ended + ")");
  };
  try {
    worker::send_frame(m_socket.get(), worker::encode(hello), fds);
  } catch (const std::system_error& error) {
    throw fail(std::string("cannot send it its plugins: ") + error.what());
  }
  const auto deadline = Clock::now() + start_timeout;
  for (;;) {
    if (give_up()) {
      throw fail("start abandoned");
    }
    std::optional<worker::Message> message;
    const Event event =
        wait(std::min(deadline, Clock::now() + std::chrono::milliseconds(50)), message);
    if (event == Event::ended) {
      throw fail(m_protocol_error.empty() ? "it ended before it was ready" : m_protocol_error);
    }
    if (event == Event::timeout) {
      if (Clock::now() >= deadline) {
        throw fail("no answer in time");
      }
      continue;
    }
    if (std::holds_alternative<worker::Ready>(*message)) {
      return;
    }
    if (const auto* failed = std::get_if<worker::StartFailed>(&*message)) {
      throw fail(failed->why);
    }
    throw fail(std::string("unexpected message \"") + worker::name_of(*message) + "\" at start");
  }
}

WorkerProcess::~WorkerProcess() {
  if (!m_reaped && m_pid > 0) {
    reap();
  }
}

bool WorkerProcess::send(const worker::Message& message) {
  return send_frames(worker::encode(message));
}

bool WorkerProcess::send_frames(const std::string& frames) {
  try {
    worker::send_frame(m_socket.get(), frames);
    return true;
  } catch (const std::system_error&) {
    return false;
  }
}

std::size_t WorkerProcess::unread_bytes() const {
  int queued = 0;
  if (m_socket.get() < 0 || ::ioctl(m_socket.get(), SIOCOUTQ, &queued) != 0 || queued < 0) {
    return static_cast<std::size_t>(-1);
  }
  return static_cast<std::size_t>(queued);
}

WorkerProcess::Event WorkerProcess::wait(Clock::time_point until,
                                         std::optional<worker::Message>& message) {
  for (;;) {
    try {
      if ((message = m_reader.next())) {
        return Event::message;
      }
    } catch (const worker::ProtocolError& error) {
      m_protocol_error = std::string("it sent what pgtqd cannot read: ") + error.what();
      return Event::ended;
    }
    if (m_exited) {
      // Dead: what it wrote before is read out, then it has ended, whoever else (a child
      // its handler forked) still holds its end of the socket.
      if (!socket_readable()) {
        return Event::ended;
      }
    } else {
      const auto now = Clock::now();
      auto step = until;
      if (m_pidfd.get() < 0) {
        step = std::min(until, now + k_exit_poll);
      }
      const auto left = std::chrono::ceil<std::chrono::milliseconds>(step - now);
      pollfd watched[2] = {{m_socket.get(), POLLIN, 0}, {m_pidfd.get(), POLLIN, 0}};
      const int ready = ::poll(watched,
                               m_pidfd.get() >= 0 ? 2 : 1,
                               static_cast<int>(std::max<long long>(left.count(), 0)));
      if (ready < 0 && errno == EINTR) {
        continue;
      }
      if (ready < 0) {
        return Event::ended;
      }
      if (watched[1].revents != 0 || (m_pidfd.get() < 0 && process_ended())) {
        m_exited = true;
        continue;
      }
      if (watched[0].revents == 0) {
        if (Clock::now() >= until) {
          return Event::timeout;
        }
        continue;
      }
    }
    try {
      if (!worker::read_into(m_socket.get(), m_reader)) {
        return Event::ended;
      }
    } catch (const std::system_error&) {
      return Event::ended; // ECONNRESET: the worker died with unread data in its socket
    }
  }
}

bool WorkerProcess::process_ended() {
  siginfo_t info{};
  return ::waitid(P_PID, static_cast<id_t>(m_pid), &info, WEXITED | WNOHANG | WNOWAIT) == 0 &&
         info.si_pid == m_pid;
}

bool WorkerProcess::socket_readable() {
  pollfd socket{m_socket.get(), POLLIN, 0};
  while (::poll(&socket, 1, 0) < 0) {
    if (errno != EINTR) {
      return false;
    }
  }
  return socket.revents != 0;
}

bool WorkerProcess::ended() {
  std::optional<worker::Message> message;
  for (;;) {
    switch (wait(Clock::now(), message)) {
    case Event::ended:
      return true;
    case Event::timeout:
      return false;
    case Event::message:
      break; // nothing is expected while idle; read on
    }
  }
}

std::string WorkerProcess::kill() {
  if (m_reaped) {
    return m_ended_how;
  }
  m_reaped = true;
  m_exited = true; // wait() reads the socket out, then says it ended
  // Not reaped yet, so the pid is still this worker's; one that ended keeps its status.
  send_signal(m_pid, m_pidfd.get(), SIGKILL);
  int status = 0;
  while (::waitpid(m_pid, &status, 0) < 0) {
    if (errno != EINTR) {
      m_ended_how = "could not be waited for: " + errno_text(errno);
      return m_ended_how;
    }
  }
  m_ended_how = describe_exit(status);
  return m_ended_how;
}

std::string WorkerProcess::reap() {
  std::string how = kill();
  m_socket = plugin::UniqueFd();
  m_pidfd = plugin::UniqueFd();
  return how;
}

std::string WorkerProcess::describe_exit(int status) {
  if (WIFSIGNALED(status)) {
    const int number = WTERMSIG(status);
    const char* abbreviation = ::sigabbrev_np(number);
    return "killed by " +
           (abbreviation != nullptr ? "SIG" + std::string(abbreviation)
                                    : "signal " + std::to_string(number)) +
           (WCOREDUMP(status) ? " (core dumped)" : "");
  }
  if (WIFEXITED(status)) {
    return "exited with status " + std::to_string(WEXITSTATUS(status));
  }
  return "ended with wait status " + std::to_string(status);
}

} // namespace pgtq::queue
