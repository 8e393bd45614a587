#pragma once

#include <signal.h>
#include <termios.h>

#include <chrono>

namespace pgtq::ctl {

// What a live view (pgtqctl top) waits on between frames: the q key on a terminal, Ctrl-C,
// SIGTERM. While it lives, a terminal on standard input sends each key at once and without
// echo; the terminal and the signal handlers are restored when it ends, however it ends.
// One at a time per process (the signal flag is global).
class KeyWatch {
public:
  KeyWatch();
  ~KeyWatch();
  KeyWatch(const KeyWatch&) = delete;
  KeyWatch& operator=(const KeyWatch&) = delete;

  // Waits up to timeout; true once the user asked to quit (q, Q, Ctrl-C, SIGTERM).
  bool wait_for_quit(std::chrono::milliseconds timeout);

private:
  bool m_terminal = false;
  termios m_saved_terminal{};
  struct sigaction m_saved_int {};
  struct sigaction m_saved_term {};
};

} // namespace pgtq::ctl
