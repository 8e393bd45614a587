// math.so: the smallest useful C++ plugin. Handlers are plain functions; plugin.hpp turns
// the task's JSON args into their parameters and their return value into the result.
//
//   add_numbers  [2, 3]                          -> 5
//   greet        {"name": "Ada"}                 -> "Hello, Ada!"
//                ["Ada", "Good morning"]         -> "Good morning, Ada!"
//   mean         [[1, 2, 4.5]]  or {"values": [1, 2, 4.5]}  -> 2.5 (logs the task id)
#include <pgtq/plugin.hpp>

#include <cstdint>
#include <numeric>
#include <optional>
#include <string>
#include <vector>

namespace {

std::int64_t add_numbers(std::int64_t a, std::int64_t b) {
  std::int64_t sum = 0;
  if (__builtin_add_overflow(a, b, &sum)) {
    // Another attempt would overflow too.
    throw pgtq::PermanentError("add_numbers: the sum does not fit in 64 bits");
  }
  return sum;
}

// A trailing std::optional may be left out of an array or an object.
std::string greet(const std::string& name, std::optional<std::string> greeting) {
  return greeting.value_or("Hello") + ", " + name + "!";
}

double mean(pgtq::Context& ctx, const std::vector<double>& values) {
  if (values.empty()) {
    throw pgtq::PermanentError("mean: no values");
  }
  ctx.debug("task " + std::to_string(ctx.id()) + ": mean of " + std::to_string(values.size()) +
            " values");
  return std::accumulate(values.begin(), values.end(), 0.0) / static_cast<double>(values.size());
}

} // namespace

PGTQ_PLUGIN("math", "1.0", [](pgtq::Registry& r) {
  PGTQ_HANDLER(r, add_numbers);
  PGTQ_HANDLER(r, greet, {"name", "greeting"});
  r.add("mean", mean, {"values"});
});
