#include "app/signals.hpp"

#include "queue/task_executor.hpp"

#include <spdlog/spdlog.h>

#include <pthread.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <cstring>
#include <ctime>

namespace pgtq::app {
namespace {

sigset_t handled_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGHUP);
  return set;
}

// Async-signal-safe: formats with nothing but write(2).
void write_text(const char* text) {
  [[maybe_unused]] auto n = ::write(2, text, std::strlen(text));
}

void write_number(long long value) {
  char digits[24];
  int at = sizeof digits;
  digits[--at] = '\0';
  const bool negative = value < 0;
  unsigned long long magnitude = negative ? 0ULL - static_cast<unsigned long long>(value)
                                          : static_cast<unsigned long long>(value);
  do {
    digits[--at] = static_cast<char>('0' + magnitude % 10);
    magnitude /= 10;
  } while (magnitude != 0 && at > 1);
  if (negative) {
    digits[--at] = '-';
  }
  write_text(digits + at);
}

// The process is a worker process (isolation = process), whose pgtqd records the attempt.
bool g_worker_process = false;

void on_fatal_signal(int number) {
  write_text("pgtqd: fatal signal ");
  write_number(number);
  if (const queue::ClaimedTask* task = queue::current_task()) {
    write_text(" while running task ");
    write_number(task->id);
    write_text(" (");
    write_text(task->name.c_str());
    write_text(") attempt ");
    write_number(task->attempt);
    write_text(g_worker_process ? "; pgtqd records the attempt as failed"
                                : "; its lease will expire and the attempt counts as failed");
  }
  write_text("\n");
  std::signal(number, SIG_DFL);
  std::raise(number);
}

} // namespace

void block_signals() {
  const sigset_t set = handled_signals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

Signal wait_for_signal(std::chrono::milliseconds timeout) {
  const sigset_t set = handled_signals();
  timespec wait{};
  wait.tv_sec = static_cast<time_t>(timeout.count() / 1000);
  wait.tv_nsec = static_cast<long>((timeout.count() % 1000) * 1000000);
  const int number = sigtimedwait(&set, nullptr, &wait);
  if (number == SIGTERM || number == SIGINT) {
    return Signal::terminate;
  }
  if (number == SIGHUP) {
    return Signal::hangup;
  }
  return Signal::none;
}

StartupSignalWatch::StartupSignalWatch()
    : m_thread([this] {
        while (!m_done.load()) {
          if (wait_for_signal(std::chrono::milliseconds(100)) == Signal::terminate) {
            // Not spdlog::shutdown(): the main thread may be logging right now.
            spdlog::info("shutdown requested during start-up; exiting");
            spdlog::default_logger_raw()->flush();
            std::_Exit(0);
          }
        }
      }) {}

StartupSignalWatch::~StartupSignalWatch() {
  m_done = true;
  // Ends the thread's wait now instead of at its next timeout, which held every start-up up
  // for as long as 100 ms. A SIGHUP sent to that thread alone: the watch takes and ignores
  // SIGHUP anyway, and one sent to the process stays pending for wait_for_signal().
  pthread_kill(m_thread.native_handle(), SIGHUP);
  m_thread.join();
}

void install_crash_reporter(bool worker_process) {
  g_worker_process = worker_process;
  struct sigaction action {};
  action.sa_handler = on_fatal_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESETHAND;
  for (const int number : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT}) {
    sigaction(number, &action, nullptr);
  }
}

} // namespace pgtq::app
