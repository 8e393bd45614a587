#pragma once

// One function per figure. Each prints one JSON line on stdout (the raw record that
// bench/report.py summarises) and assumes a migrated, otherwise idle database.

#include <string>

namespace pgtq::bench {

struct Common {
  std::string dsn;
  std::string queue = "bench";
  int rep = 1;
  std::string pgtqd;
  std::string plugin_dir;
  std::string log_file = "/dev/null";
  std::string isolation;     // pgtqd --isolation (process or thread); empty: pgtqd's default
  std::string task = "noop"; // what drain queues: noop, or pause_1ms (stamp.so)
  int fairness_keys = 0;     // drain's tasks spread over this many fairness keys (0: none)
};

// "client": pgtq::push from client.hpp as shipped; "prepared": the same pgtq.push call
// as a server-side prepared statement (what a tuned application would do).
// Stops after `tasks` pushes or `max_seconds`, whichever comes first.
void push_single(const Common& common, int tasks, double max_seconds, const std::string& mode);
void push_bulk(const Common& common, int tasks, int batch);
// Replaces the history with `rows` finished tasks, as if that many had run before.
void make_history(const Common& common, long long rows);
// prefetch: pgtqd --prefetch (0: none).
void drain(const Common& common, int tasks, int concurrency, int prefetch = 0);
void latency(const Common& common, int warmup, int tasks, int interval_ms, int concurrency);
void soak(const Common& common, int seconds, int concurrency, int rate);

} // namespace pgtq::bench
