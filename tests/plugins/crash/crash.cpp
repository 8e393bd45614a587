// Task `crash` takes the worker process down when asked to, to test that pgtqd (or its
// supervisor) recovers and the task's lease expires instead of the task being lost:
//   crash {"how": "abort"}  -> abort()
//   crash {"how": "segv"}   -> SIGSEGV
//   crash [] or {}          -> succeeds with "survived"
#include <pgtq/plugin.hpp>

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
  if (how.has_value()) {
    throw pgtq::PermanentError("crash: \"how\" is \"abort\" or \"segv\"");
  }
  return "survived";
}

} // namespace

PGTQ_PLUGIN("crash", "0", [](pgtq::Registry& r) { PGTQ_HANDLER(r, crash, {"how"}); });
