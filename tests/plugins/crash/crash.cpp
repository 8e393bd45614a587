// Task `crash` takes the worker process down when asked to, to test that pgtqd (or its
// supervisor) recovers and the task's lease expires instead of the task being lost:
//   crash {"how": "abort"}  -> abort()
//   crash {"how": "segv"}   -> SIGSEGV
//   crash {"how": "fork_segv"} -> forks a child that sleeps 10 s holding the worker's
//                                 descriptors (no exec), then SIGSEGV
//   crash [] or {}          -> succeeds with "survived"
#include <pgtq/plugin.hpp>

#include <fcntl.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <optional>
#include <string>

namespace {

std::string crash(std::optional<std::string> how) {
  if (how == "abort") {
    std::abort();
  }
  if (how == "segv") {
    std::raise(SIGSEGV);
  }
  if (how == "fork_segv") {
    if (::fork() == 0) {
      // Keeps every descriptor but the standard ones (the test reads pgtqd's log to its end).
      const int null = ::open("/dev/null", O_RDWR);
      ::dup2(null, 0);
      ::dup2(null, 1);
      ::dup2(null, 2);
      ::sleep(10);
      ::_exit(0);
    }
    std::raise(SIGSEGV);
  }
  if (how.has_value()) {
    throw pgtq::PermanentError("crash: \"how\" is \"abort\", \"segv\" or \"fork_segv\"");
  }
  return "survived";
}

} // namespace

PGTQ_PLUGIN("crash", "0", [](pgtq::Registry& r) { PGTQ_HANDLER(r, crash, {"how"}); });
