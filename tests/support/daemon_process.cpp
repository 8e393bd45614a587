#include "support/daemon_process.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <string_view>
#include <thread>

namespace pgtq::test {
namespace fs = std::filesystem;

std::string pgtqd_path() {
  return std::string(PGTQ_TEST_BINARY_DIR) + "/daemon/pgtqd";
}
std::string example_plugin_dir() {
  return std::string(PGTQ_TEST_BINARY_DIR) + "/plugins";
}
std::string test_plugin_dir(const std::string& scenario) {
  return std::string(PGTQ_TEST_BINARY_DIR) + "/test-plugins/" + scenario;
}

bool eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) {
      return true;
    }
    std::this_thread::sleep_for(20ms);
  }
  return condition();
}

DaemonProcess::DaemonProcess(const Options& options) {
  char log_template[] = "/tmp/pgtqd-test-XXXXXX";
  const int log_fd = ::mkstemp(log_template);
  if (log_fd < 0) {
    throw std::runtime_error("mkstemp failed");
  }
  m_log_path = log_template;

  std::string plugin_dir =
      options.plugin_dirs.empty() ? example_plugin_dir() : options.plugin_dirs[0];
  if (options.plugin_dirs.size() > 1) {
    // pgtqd reads one directory: copy the plugins of all the requested ones into a new one
    // (not symlinks: pgtqd refuses those that lead out of its directory). Modes are set, not
    // left to the umask, since pgtqd refuses group- or world-writable ones.
    m_plugin_dir = m_log_path + ".plugins";
    fs::create_directory(m_plugin_dir);
    fs::permissions(m_plugin_dir,
                    fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec |
                        fs::perms::others_read | fs::perms::others_exec);
    for (const std::string& dir : options.plugin_dirs) {
      for (const auto& entry : fs::directory_iterator(dir)) {
        if (entry.path().extension() == ".so") {
          const fs::path copy = fs::path(m_plugin_dir) / entry.path().filename();
          fs::copy_file(entry.path(), copy);
          fs::permissions(copy,
                          fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read |
                              fs::perms::others_read);
        }
      }
    }
    plugin_dir = m_plugin_dir;
  }

  std::vector<std::string> args = {options.program.empty() ? pgtqd_path() : options.program};
  if (!options.config_only) {
    args.insert(args.end(),
                {"--queue", options.queue, "--dsn", options.dsn, "--plugin-dir", plugin_dir});
  }
  args.insert(args.end(), options.extra_args.begin(), options.extra_args.end());

  // Everything the child needs is built before fork: between fork and exec a child of a
  // threaded process may only make async-signal-safe calls (no allocation, no setenv).
  std::vector<char*> argv;
  for (std::string& arg : args) {
    argv.push_back(arg.data());
  }
  argv.push_back(nullptr);
  std::vector<std::string> environment;
  for (char** entry = environ; *entry != nullptr; ++entry) {
    const std::string_view text(*entry);
    if (options.env.count(std::string(text.substr(0, text.find('=')))) == 0) {
      environment.emplace_back(text);
    }
  }
  for (const auto& [name, value] : options.env) {
    environment.push_back(name + "=" + value);
  }
  std::vector<char*> envp;
  for (std::string& entry : environment) {
    envp.push_back(entry.data());
  }
  envp.push_back(nullptr);
  sigset_t none;
  sigemptyset(&none);

  m_pid = ::fork();
  if (m_pid < 0) {
    throw std::runtime_error("fork failed");
  }
  if (m_pid == 0) {
    ::dup2(log_fd, 1);
    ::dup2(log_fd, 2);
    // A test runner may block signals; pgtqd must start with the default mask.
    ::sigprocmask(SIG_SETMASK, &none, nullptr);
    ::execve(argv[0], argv.data(), envp.data());
    ::_exit(127);
  }
  ::close(log_fd);
}

DaemonProcess::~DaemonProcess() {
  if (running()) {
    ::kill(m_pid, SIGKILL);
    wait_exit(5s);
  }
  std::error_code ignored;
  fs::remove(m_log_path, ignored);
  if (!m_plugin_dir.empty()) {
    fs::remove_all(m_plugin_dir, ignored);
  }
}

void DaemonProcess::signal(int number) const {
  ::kill(m_pid, number);
}

std::optional<int> DaemonProcess::wait_exit(std::chrono::milliseconds timeout) {
  eventually([this] { return !running(); }, timeout);
  return m_status;
}

bool DaemonProcess::running() {
  if (m_status) {
    return false;
  }
  int status = 0;
  if (::waitpid(m_pid, &status, WNOHANG) == m_pid) {
    m_status = status;
    return false;
  }
  return true;
}

std::string DaemonProcess::log() const {
  std::ifstream file(m_log_path);
  std::stringstream content;
  content << file.rdbuf();
  return content.str();
}

bool DaemonProcess::wait_for_log(const std::string& text, std::chrono::milliseconds timeout) const {
  return eventually([&] { return log().find(text) != std::string::npos; }, timeout);
}

} // namespace pgtq::test
