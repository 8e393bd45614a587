#pragma once

// A pgtqd child process, started the way systemd starts it (NOTIFY_SOCKET set), so that
// the benchmark knows the moment it is ready without reading its log.

#include <sys/types.h>

#include <chrono>
#include <string>
#include <vector>

namespace pgtq::bench {

struct DaemonOptions {
  std::string pgtqd; // path of the binary
  std::string dsn;
  std::string queue;
  std::string plugin_dir;
  int concurrency = 16;
  std::string log_file; // stdout and stderr go here
  std::vector<std::string> extra_args;
};

class DaemonProcess {
public:
  explicit DaemonProcess(const DaemonOptions& options);
  ~DaemonProcess();
  DaemonProcess(const DaemonProcess&) = delete;
  DaemonProcess& operator=(const DaemonProcess&) = delete;

  pid_t pid() const { return m_pid; }
  // Waits for READY=1 on the notify socket; false on timeout or when the process died.
  bool wait_ready(std::chrono::milliseconds timeout);
  // SIGTERM, then waits; SIGKILL after the grace. Returns the exit status (or -1).
  int stop(std::chrono::milliseconds grace = std::chrono::seconds(10));

private:
  pid_t m_pid = -1;
  int m_notify_fd = -1;
  std::string m_notify_path;
};

} // namespace pgtq::bench
