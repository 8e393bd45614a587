// pgtq-bench: measures one figure per invocation and prints it as a JSON line.
// bench/run.sh drives it (server, repetitions, floor, report); see docs/benchmarks.md.
#include "figures.hpp"

#include <CLI/CLI.hpp>

#include <cstdio>
#include <exception>
#include <iostream>

int main(int argc, char** argv) {
  pgtq::bench::Common common;
  CLI::App app{"pgtq-bench: one benchmark figure per call, printed as a JSON line"};
  app.require_subcommand(1);
  app.add_option("--dsn", common.dsn, "libpq conninfo of the benchmark database")->required();
  app.add_option("--queue", common.queue, "queue to use")->capture_default_str();
  app.add_option("--rep", common.rep, "repetition number, copied into the record");
  app.add_option("--pgtqd", common.pgtqd, "pgtqd binary");
  app.add_option("--plugin-dir", common.plugin_dir, "plugin directory for pgtqd");
  app.add_option("--daemon-log", common.log_file, "where pgtqd's output goes");
  app.add_option("--isolation", common.isolation, "pgtqd --isolation: process or thread");
  app.add_option("--fairness-keys",
                 common.fairness_keys,
                 "drain's tasks spread over this many fairness keys (default 0: none)");
  app.add_option("--task", common.task, "the task drain queues: noop, or pause_1ms (1 ms each)")
      ->capture_default_str();

  int tasks = 20000, batch = 1000, concurrency = 16, warmup = 20, interval_ms = 10;
  int seconds = 600, rate = 5000;
  long long rows = 1000000;
  double push_seconds = 10;
  std::string mode = "prepared";

  auto* single = app.add_subcommand("push-single", "one task per transaction, one client");
  single->add_option("--tasks", tasks);
  single->add_option("--seconds", push_seconds, "stop after this long even if tasks remain");
  single
      ->add_option("--mode",
                   mode,
                   "client (client.hpp pgtq::push) or prepared (client.hpp pgtq::PreparedPusher)")
      ->check(CLI::IsMember({"client", "prepared"}));
  single->callback([&] { pgtq::bench::push_single(common, tasks, push_seconds, mode); });

  auto* bulk = app.add_subcommand("push-bulk", "push_many, `batch` tasks per call");
  bulk->add_option("--tasks", tasks);
  bulk->add_option("--batch", batch);
  bulk->callback([&] { pgtq::bench::push_bulk(common, tasks, batch); });

  auto* history =
      app.add_subcommand("history", "replace the history with this many finished tasks");
  history->add_option("--rows", rows);
  history->callback([&] { pgtq::bench::make_history(common, rows); });

  auto* drain =
      app.add_subcommand("drain", "pre-queue no-op tasks, start pgtqd, time until none is left");
  drain->add_option("--tasks", tasks);
  drain->add_option("--concurrency", concurrency);
  int prefetch = -1;
  drain->add_option("--prefetch", prefetch, "pgtqd --prefetch; -1: pgtqd's default (auto)");
  drain->callback([&] { pgtq::bench::drain(common, tasks, concurrency, prefetch); });

  auto* latency =
      app.add_subcommand("latency", "push commit acknowledged -> handler start, idle pgtqd");
  latency->add_option("--warmup", warmup);
  latency->add_option("--tasks", tasks);
  latency->add_option("--interval-ms", interval_ms);
  latency->add_option("--concurrency", concurrency);
  latency->callback([&] { pgtq::bench::latency(common, warmup, tasks, interval_ms, concurrency); });

  auto* soak = app.add_subcommand("soak", "push and drain at a steady rate, sampling pgtqd's RSS");
  soak->add_option("--seconds", seconds);
  soak->add_option("--concurrency", concurrency);
  soak->add_option("--rate", rate, "tasks pushed per second");
  soak->callback([&] { pgtq::bench::soak(common, seconds, concurrency, rate); });

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    return app.exit(error);
  } catch (const std::exception& error) {
    std::cerr << "pgtq-bench: " << error.what() << '\n';
    return 1;
  }
  std::fflush(stdout);
  return 0;
}
