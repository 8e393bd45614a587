// workflow.so: tasks that work together (README "Dependencies and follow-ups", "Progress and
// checkpoints").
//
//   square       {"x": 3}                  -> 9
//   sum_parents  []                        -> {"sum": 25, "parents": 2}: adds up the numeric
//                results of the tasks it depends on (push it with depends_on: a fan-in)
//   fan_out      {"xs": [1, 2, 3]}         -> pushes a `square` follow-up per x, committed with
//                its own success; with "crash": true its first attempt aborts after pushing
//                them, and none of them exists until the second attempt succeeds
//   count_to     {"n": 100, "step_ms": 10} -> {"counted": 100, "resumed_from": 0}: reports its
//                progress ({"done": i, "total": n}) at each step and saves a checkpoint every
//                "checkpoint_every" steps (default 1) and when asked to stop; a later attempt
//                resumes from the checkpoint. "crash_at": k ends its first attempt at step k, by
//                aborting its worker process (how: "abort", the default) or asking for a retry
//                ("retry")
#include <pgtq/plugin.hpp>

#include <rapidjson/document.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <optional>
#include <string>
#include <thread>
#include <vector>

namespace {

double square(double x) {
  return x * x;
}

pgtq::Json sum_parents(pgtq::Context& ctx) {
  rapidjson::Document parents;
  const std::string_view text = ctx.parents();
  parents.Parse(text.data(), text.size());
  if (parents.HasParseError() || !parents.IsArray()) {
    throw pgtq::PermanentError("sum_parents: pgtqd gave no parents (ABI 1.3 needed)");
  }
  double sum = 0;
  for (const auto& parent : parents.GetArray()) {
    if (parent.HasMember("result") && parent["result"].IsNumber()) {
      sum += parent["result"].GetDouble();
    }
  }
  return pgtq::Json("{\"sum\": " + std::to_string(sum) +
                    ", \"parents\": " + std::to_string(parents.Size()) + "}");
}

std::string fan_out(pgtq::Context& ctx, const std::vector<double>& xs, std::optional<bool> crash) {
  for (const double x : xs) {
    if (!ctx.push_followup(R"({"task": "square", "args": {"x": )" + std::to_string(x) + "}}")) {
      throw pgtq::PermanentError("fan_out: pgtqd refused a follow-up");
    }
  }
  if (crash.value_or(false) && ctx.attempt() == 1) {
    std::abort(); // the follow-ups die with the attempt
  }
  return "pushed " + std::to_string(xs.size());
}

pgtq::Json count_to(pgtq::Context& ctx,
                    std::int64_t n,
                    std::optional<double> step_ms,
                    std::optional<std::int64_t> checkpoint_every,
                    std::optional<std::int64_t> crash_at,
                    std::optional<std::string> how) {
  std::int64_t start = 0;
  if (const std::string_view saved = ctx.checkpoint(); !saved.empty()) {
    rapidjson::Document checkpoint;
    checkpoint.Parse(saved.data(), saved.size());
    if (checkpoint.IsObject() && checkpoint.HasMember("done") && checkpoint["done"].IsInt64()) {
      start = checkpoint["done"].GetInt64();
    }
  }
  const auto step = std::chrono::duration<double, std::milli>(step_ms.value_or(0));
  const std::int64_t every = std::max<std::int64_t>(checkpoint_every.value_or(1), 1);
  for (std::int64_t done = start + 1; done <= n; ++done) {
    if (ctx.should_stop()) {
      // Asked to stop (shutdown, timeout): where it got to is where the next attempt starts.
      ctx.set_checkpoint("{\"done\": " + std::to_string(done - 1) + "}");
      throw pgtq::Retry("count_to: stopped at " + std::to_string(done - 1));
    }
    if (step >= std::chrono::milliseconds(1)) {
      std::this_thread::sleep_for(step);
    } else if (step.count() > 0) {
      // A sleep this short would oversleep several times over: a step of busy work instead.
      const auto until = std::chrono::steady_clock::now() + step;
      while (std::chrono::steady_clock::now() < until) {
      }
    }
    const std::string state = "{\"done\": " + std::to_string(done) + "}";
    if (done % every == 0 || done == n) {
      ctx.set_checkpoint(state);
    }
    ctx.set_progress("{\"done\": " + std::to_string(done) + ", \"total\": " + std::to_string(n) +
                     "}");
    if (crash_at && done == *crash_at && ctx.attempt() == 1) {
      if (how.value_or("abort") == "retry") {
        throw pgtq::Retry("count_to: stopped at " + std::to_string(done) + " on purpose");
      }
      std::abort();
    }
  }
  return pgtq::Json("{\"counted\": " + std::to_string(n) +
                    ", \"resumed_from\": " + std::to_string(start) + "}");
}

} // namespace

PGTQ_PLUGIN("workflow", "1.0", [](pgtq::Registry& r) {
  PGTQ_HANDLER(r, square, {"x"});
  PGTQ_HANDLER(r, sum_parents);
  PGTQ_HANDLER(r, fan_out, {"xs", "crash"}).backoff({.base_s = 0.1, .factor = 2, .cap_s = 1});
  PGTQ_HANDLER(r, count_to, {"n", "step_ms", "checkpoint_every", "crash_at", "how"})
      .backoff({.base_s = 0.1, .factor = 2, .cap_s = 1});
});
