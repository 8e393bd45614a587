#include "daemon_process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <stdexcept>
#include <system_error>
#include <thread>

namespace pgtq::bench {

DaemonProcess::DaemonProcess(const DaemonOptions& options) {
  m_notify_path = "/tmp/pgtq-bench-notify." + std::to_string(::getpid()) + "." +
                  std::to_string(std::chrono::steady_clock::now().time_since_epoch().count());
  m_notify_fd = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  std::strncpy(address.sun_path, m_notify_path.c_str(), sizeof address.sun_path - 1);
  if (m_notify_fd < 0 ||
      ::bind(m_notify_fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    throw std::system_error(errno, std::generic_category(), "notify socket");
  }

  std::vector<std::string> args{options.pgtqd,
                                "--queue",
                                options.queue,
                                "--dsn",
                                options.dsn,
                                "--plugin-dir",
                                options.plugin_dir,
                                "--concurrency",
                                std::to_string(options.concurrency),
                                "--log-level",
                                "warn"};
  args.insert(args.end(), options.extra_args.begin(), options.extra_args.end());
  std::vector<char*> argv;
  for (std::string& arg : args) {
    argv.push_back(arg.data());
  }
  argv.push_back(nullptr);
  const std::string notify_env = "NOTIFY_SOCKET=" + m_notify_path;

  m_pid = ::fork();
  if (m_pid < 0) {
    throw std::system_error(errno, std::generic_category(), "fork");
  }
  if (m_pid == 0) {
    const int log = ::open(options.log_file.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (log >= 0) {
      ::dup2(log, 1);
      ::dup2(log, 2);
    }
    ::putenv(const_cast<char*>(notify_env.c_str()));
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
}

DaemonProcess::~DaemonProcess() {
  if (m_pid > 0) {
    stop(std::chrono::seconds(5));
  }
  if (m_notify_fd >= 0) {
    ::close(m_notify_fd);
    ::unlink(m_notify_path.c_str());
  }
}

bool DaemonProcess::wait_ready(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  char buffer[4096];
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (::waitpid(m_pid, &status, WNOHANG) == m_pid) {
      m_pid = -1;
      return false;
    }
    pollfd fd{m_notify_fd, POLLIN, 0};
    if (::poll(&fd, 1, 50) > 0) {
      const ssize_t got = ::recv(m_notify_fd, buffer, sizeof buffer - 1, 0);
      if (got > 0) {
        buffer[got] = '\0';
        if (std::strstr(buffer, "READY=1") != nullptr) {
          return true;
        }
      }
    }
  }
  return false;
}

int DaemonProcess::stop(std::chrono::milliseconds grace) {
  if (m_pid <= 0) {
    return -1;
  }
  ::kill(m_pid, SIGTERM);
  const auto deadline = std::chrono::steady_clock::now() + grace;
  int status = 0;
  while (::waitpid(m_pid, &status, WNOHANG) == 0) {
    if (std::chrono::steady_clock::now() >= deadline) {
      ::kill(m_pid, SIGKILL);
      ::waitpid(m_pid, &status, 0);
      break;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  m_pid = -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

} // namespace pgtq::bench
