// Task `snooze_once`: the first run of each task snoozes for {"seconds": x} (default 0.5),
// the next one returns "woke". Lets the tests see that a snooze waits, then runs again
// without using up an attempt.
#include <pgtq/plugin.hpp>

#include <cstdint>
#include <mutex>
#include <optional>
#include <set>
#include <string>

namespace {

std::mutex g_mutex;
std::set<std::int64_t> g_snoozed; // tasks this process has snoozed once

std::string snooze_once(pgtq::Context& ctx, std::optional<double> seconds) {
  {
    const std::lock_guard lock(g_mutex);
    if (g_snoozed.insert(ctx.id()).second) {
      throw pgtq::Snooze(seconds.value_or(0.5));
    }
  }
  return "woke";
}

} // namespace

PGTQ_PLUGIN("snooze", "0", [](pgtq::Registry& r) {
  r.add("snooze_once", snooze_once, {"seconds"});
});
