#include "ctl/key_watch.hpp"

#include <poll.h>
#include <unistd.h>

#include <cerrno>

namespace pgtq::ctl {
namespace {

volatile sig_atomic_t g_quit = 0;

void on_signal(int) {
  g_quit = 1;
}

} // namespace

KeyWatch::KeyWatch() {
  g_quit = 0;
  struct sigaction action {};
  action.sa_handler = &on_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = 0; // no SA_RESTART: poll() returns EINTR at once
  sigaction(SIGINT, &action, &m_saved_int);
  sigaction(SIGTERM, &action, &m_saved_term);
  if (isatty(STDIN_FILENO) == 1 && tcgetattr(STDIN_FILENO, &m_saved_terminal) == 0) {
    termios keys = m_saved_terminal;
    keys.c_lflag &= ~static_cast<tcflag_t>(ICANON | ECHO); // ISIG stays: Ctrl-C is SIGINT
    keys.c_cc[VMIN] = 0;
    keys.c_cc[VTIME] = 0;
    m_terminal = tcsetattr(STDIN_FILENO, TCSANOW, &keys) == 0;
  }
}

KeyWatch::~KeyWatch() {
  if (m_terminal) {
    tcsetattr(STDIN_FILENO, TCSANOW, &m_saved_terminal);
  }
  sigaction(SIGINT, &m_saved_int, nullptr);
  sigaction(SIGTERM, &m_saved_term, nullptr);
}

bool KeyWatch::wait_for_quit(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (g_quit == 0) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      return false;
    }
    // Without a terminal there is nothing to read: poll() only sleeps, until a signal.
    pollfd input{STDIN_FILENO, POLLIN, 0};
    const int ready = poll(&input, m_terminal ? 1 : 0, static_cast<int>(left.count()));
    if (ready < 0 && errno != EINTR) {
      return false;
    }
    if (ready > 0) {
      char keys[64];
      const ssize_t read_count = read(STDIN_FILENO, keys, sizeof keys);
      for (ssize_t i = 0; i < read_count; ++i) {
        if (keys[i] == 'q' || keys[i] == 'Q') {
          return true;
        }
      }
    }
  }
  return true;
}

} // namespace pgtq::ctl
