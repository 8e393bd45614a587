#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace pgtq::test {

using namespace std::chrono_literals;

// Where the build put things (compile definitions from tests/CMakeLists.txt).
std::string pgtqd_path();
std::string example_plugin_dir();
// A directory of tests/plugins' builds: test_plugin_dir("ledger") etc.
std::string test_plugin_dir(const std::string& scenario);

// The real pgtqd binary, started with the given options; stdout and stderr go to a log
// file the test can read. Killed (SIGKILL) at destruction if still running.
class DaemonProcess {
public:
  struct Options {
    std::string dsn;
    std::string queue = "default";
    std::vector<std::string> plugin_dirs; // the first is --plugin-dir; more are merged by copies
    std::vector<std::string> extra_args;
    std::map<std::string, std::string> env;
    // Pass only extra_args: queue, dsn and plugin directory come from a --config file.
    bool config_only = false;
    // Another binary of the build to run instead of pgtqd (with config_only: pgtqctl web).
    std::string program;
  };

  explicit DaemonProcess(const Options& options);
  ~DaemonProcess();
  DaemonProcess(const DaemonProcess&) = delete;
  DaemonProcess& operator=(const DaemonProcess&) = delete;

  pid_t pid() const { return m_pid; }
  void signal(int number) const;
  // The exit status (as from waitpid) once the process ended, or nothing at the deadline.
  std::optional<int> wait_exit(std::chrono::milliseconds timeout);
  bool running();
  std::string log() const;
  // Waits until the log contains text; returns whether it did.
  bool wait_for_log(const std::string& text, std::chrono::milliseconds timeout) const;

private:
  pid_t m_pid = -1;
  std::optional<int> m_status;
  std::string m_log_path;
  std::string m_plugin_dir; // a merged directory we created, removed at the end
};

// Polls condition every 20 ms until it holds or the timeout passes; returns the last value.
bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout);

} // namespace pgtq::test
