#pragma once

#include <atomic>
#include <chrono>
#include <thread>

namespace pgtq::app {

enum class Signal { none, terminate, hangup };

// SIGTERM, SIGINT and SIGHUP are blocked in every thread (call before starting any) and
// taken synchronously by the main loop, so no handler runs at an arbitrary point.
void block_signals();
// Waits up to timeout for one of them.
Signal wait_for_signal(std::chrono::milliseconds timeout);

// While it lives, SIGTERM and SIGINT end the process at once (exit 0), from a thread of its
// own: during start-up the main thread may be blocked for long in a plugin's init() or in
// connecting to the database, and nothing has been claimed yet that a drain would have to
// finish. Start it after block_signals(); once it is gone, signals stay pending for
// wait_for_signal(). SIGHUP is taken and ignored.
class StartupSignalWatch {
public:
  StartupSignalWatch();
  ~StartupSignalWatch();
  StartupSignalWatch(const StartupSignalWatch&) = delete;
  StartupSignalWatch& operator=(const StartupSignalWatch&) = delete;

private:
  std::atomic<bool> m_done{false};
  std::thread m_thread;
};

// On SIGSEGV, SIGBUS, SIGFPE, SIGILL or SIGABRT, writes which task the crashing thread
// was running (a plugin crashed the daemon, or the worker process) before dying as the
// signal says. The handler also keeps a sanitizer's own from turning the signal into an
// exit status, so pgtqd sees "killed by SIGSEGV" in every build.
void install_crash_reporter(bool worker_process = false);

} // namespace pgtq::app
