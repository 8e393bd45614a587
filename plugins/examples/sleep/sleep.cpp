// sleep.so: a long-running handler that stays responsive. `sleep` waits the given number
// of seconds in short steps and gives up with a retry as soon as pgtqd asks it to stop
// (shutdown, cancel, lost lease), so it never holds up a drain:
//
//   sleep  [1.5]  or  {"seconds": 1.5}  -> 1.5 (the seconds slept)
#include <pgtq/plugin.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <thread>

namespace {

double sleep_for(pgtq::Context& ctx, double seconds) {
  if (!std::isfinite(seconds) || seconds < 0 || seconds > 86400) {
    throw pgtq::PermanentError("sleep: seconds must be between 0 and 86400");
  }
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  const auto deadline =
      start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  // Short enough that a stop request is honoured promptly, long enough to cost nothing.
  constexpr auto k_step = std::chrono::milliseconds(50);
  for (auto now = start; now < deadline; now = Clock::now()) {
    if (ctx.should_stop()) {
      const std::chrono::duration<double> slept = now - start;
      throw pgtq::Retry("sleep: stopped after " + std::to_string(slept.count()) + " s");
    }
    std::this_thread::sleep_for(std::min<Clock::duration>(k_step, deadline - now));
  }
  return seconds;
}

} // namespace

PGTQ_PLUGIN("sleep", "1.0", [](pgtq::Registry& r) { r.add("sleep", sleep_for, {"seconds"}); });
