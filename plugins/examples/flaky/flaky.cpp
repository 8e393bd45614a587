// flaky.so: shows retries. `flaky` fails its first fail_times attempts (default 2) with a
// retryable error, then succeeds with {"attempts": n}. Its backoff is short so a demo ends
// within a second:
//
//   flaky  {"fail_times": 2}  or  [2]  or  []  -> error, error, {"attempts": 3}
#include <pgtq/plugin.hpp>

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

} // namespace

PGTQ_PLUGIN("flaky", "1.0", [](pgtq::Registry& r) {
  // 0.1 s, 0.2 s, 0.4 s ... at most 2 s between attempts.
  PGTQ_HANDLER(r, flaky, {"fail_times"}).backoff({.base_s = 0.1, .factor = 2, .cap_s = 2});
});
