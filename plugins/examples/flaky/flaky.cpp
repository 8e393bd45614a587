// flaky.so: shows retries. `flaky` fails its first fail_times attempts (default 2) with a
// retryable error, then succeeds with {"attempts": n}. `crash_once` crashes its worker with
// SIGSEGV on the first attempt and succeeds on the next: with isolation = process (the
// default) that costs one attempt, recorded as "killed by SIGSEGV"; with isolation = thread
// it stops pgtqd, as any crashing handler does there. Their backoff is short so a demo ends
// within a second:
//
//   flaky       {"fail_times": 2}  or  [2]  or  []  -> error, error, {"attempts": 3}
//   crash_once  []                                  -> killed by SIGSEGV, "survived"
#include <pgtq/plugin.hpp>

#include <csignal>
#include <map>
#include <optional>
#include <string>

namespace {

std::map<std::string, int> flaky(pgtq::Context& ctx, std::optional<int> fail_times) {
  const int failures = fail_times.value_or(2);
  if (ctx.attempt() <= failures) {
    throw pgtq::Retry("flaky: attempt " + std::to_string(ctx.attempt()) + " of " +
                      std::to_string(failures + 1) + " fails on purpose");
  }
  return {{"attempts", ctx.attempt()}};
}

std::string crash_once(pgtq::Context& ctx) {
  if (ctx.attempt() == 1) {
    std::raise(SIGSEGV);
  }
  return "survived";
}

} // namespace

PGTQ_PLUGIN("flaky", "1.0", [](pgtq::Registry& r) {
  // 0.1 s, 0.2 s, 0.4 s ... at most 2 s between attempts.
  PGTQ_HANDLER(r, flaky, {"fail_times"}).backoff({.base_s = 0.1, .factor = 2, .cap_s = 2});
  PGTQ_HANDLER(r, crash_once).backoff({.base_s = 0.1, .factor = 2, .cap_s = 2});
});
