// Handlers that misbehave in the ways isolation = process contains, and one that behaves:
//   spin          loops forever ignoring should_stop(); its task name has a 2 s timeout
//   spin_forever  the same without a timeout of its own (the daemon's task-timeout applies)
//   hog           allocates (and touches) 16 MiB after 16 MiB without bound, ignoring
//                 should_stop()
//   nap {"ms": n} sleeps n ms, stopping early on should_stop(), and returns its process id
//   hog_then_abort allocates like hog until an allocation fails, then aborts (as code that
//                 cannot handle the failure would)
#include <pgtq/plugin.hpp>

#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <thread>
#include <vector>

namespace {

void spin() {
  for (;;) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10)); // idle: the test machine is busy
  }
}

void hog() {
  constexpr std::size_t k_chunk = 16u << 20;
  std::vector<std::unique_ptr<char[]>> held;
  for (;;) {
    held.push_back(std::make_unique<char[]>(k_chunk));
    std::memset(held.back().get(), 1, k_chunk);
  }
}

void hog_then_abort() {
  try {
    hog();
  } catch (const std::bad_alloc&) {
    std::abort();
  }
}

long nap(pgtq::Context& context, int ms) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  while (std::chrono::steady_clock::now() < until) {
    if (context.should_stop()) {
      throw pgtq::Retry("nap: asked to stop");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return static_cast<long>(::getpid());
}

} // namespace

PGTQ_PLUGIN("runaway", "0", [](pgtq::Registry& r) {
  r.add("spin", spin).timeout(2);
  r.add("spin_forever", spin);
  r.add("hog", hog);
  r.add("hog_then_abort", hog_then_abort);
  r.add("nap", nap, {"ms"});
});
