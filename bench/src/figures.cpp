#include "figures.hpp"

#include "daemon_process.hpp"
#include "pg.hpp"
#include "proc_stats.hpp"

#include <pgtq/client.hpp>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <map>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace pgtq::bench {
namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

long long realtime_us() {
  timespec now{};
  clock_gettime(CLOCK_REALTIME, &now);
  return static_cast<long long>(now.tv_sec) * 1000000LL + now.tv_nsec / 1000;
}

// Nearest-rank percentile of sorted values.
double percentile(const std::vector<double>& sorted, double p) {
  if (sorted.empty()) {
    return 0;
  }
  const auto rank =
      static_cast<std::size_t>(p / 100.0 * static_cast<double>(sorted.size()) + 0.999999);
  return sorted[std::min(sorted.size(), std::max<std::size_t>(rank, 1)) - 1];
}

pid_t postmaster_of(Pg& pg) {
  return parent_of(static_cast<pid_t>(pg.number("SELECT pg_backend_pid()")));
}

// Queues `tasks` no-op tasks in one push_many call (the pushing is not what is timed here),
// over `keys` fairness keys in turn (0: without keys, in a form every schema version takes).
long long
queue_noops(Pg& pg, const std::string& queue, int tasks, const std::string& task, int keys = 0) {
  pg.exec("TRUNCATE pgtq.live_tasks");
  const std::string first =
      keys == 0 ? pg.value("SELECT min(id) FROM pgtq.push_many($1, (SELECT "
                           "jsonb_agg(jsonb_build_object('task', $3::text))"
                           " FROM generate_series(1, $2::integer))) AS id",
                           {queue, std::to_string(tasks), task})
                : pg.value("SELECT min(id) FROM pgtq.push_many($1, (SELECT "
                           "jsonb_agg(jsonb_build_object('task', $3::text, 'fairness_key',"
                           " 'tenant-' || g % $4::integer) ORDER BY g)"
                           " FROM generate_series(1, $2::integer) AS g)) AS id",
                           {queue, std::to_string(tasks), task, std::to_string(keys)});
  pg.exec("VACUUM ANALYZE pgtq.live_tasks");
  pg.exec("VACUUM ANALYZE pgtq.finished_tasks");
  return std::stoll(first);
}

// prefetch: pgtqd --prefetch; -1 gives none (pgtqd's default, auto).
DaemonOptions daemon_options(const Common& common, int concurrency, int prefetch = -1) {
  DaemonOptions options;
  options.pgtqd = common.pgtqd;
  options.dsn = common.dsn;
  options.queue = common.queue;
  options.plugin_dir = common.plugin_dir;
  options.concurrency = concurrency;
  options.log_file = common.log_file;
  if (prefetch >= 0) {
    options.extra_args = {"--prefetch", std::to_string(prefetch)};
  }
  if (!common.isolation.empty()) {
    options.extra_args.insert(options.extra_args.end(), {"--isolation", common.isolation});
  }
  return options;
}

// Samples pgtqd's resident memory in the background until destroyed.
class MemorySampler {
public:
  MemorySampler(pid_t pid, std::chrono::milliseconds every)
      : m_thread([this, pid, every] {
          while (!m_stop) {
            const Memory memory = memory_of(pid);
            if (memory.rss_kib > 0) {
              m_max_rss = std::max(m_max_rss.load(), memory.rss_kib);
              m_hwm = std::max(m_hwm.load(), memory.hwm_kib);
            }
            std::this_thread::sleep_for(every);
          }
        }) {}
  ~MemorySampler() {
    m_stop = true;
    m_thread.join();
  }
  long max_rss() const { return m_max_rss; }
  long hwm() const { return m_hwm; }

private:
  std::atomic<bool> m_stop{false};
  std::atomic<long> m_max_rss{0};
  std::atomic<long> m_hwm{0};
  std::thread m_thread;
};

} // namespace

void push_single(const Common& common, int tasks, double max_seconds, const std::string& mode) {
  Pg pg(common.dsn);
  pg.exec("TRUNCATE pgtq.live_tasks");
  pgtq::PreparedPusher pusher(pg.get());
  const auto one = [&] {
    if (mode == "prepared") {
      pusher.push(common.queue, "noop");
    } else {
      pgtq::push(pg.get(), common.queue, "noop");
    }
  };
  for (int i = 0; i < 50; ++i) {
    one(); // warms the plpgsql plan cache and the relation caches
  }
  pg.exec("TRUNCATE pgtq.live_tasks");
  // Bounded by time as well, like pgbench -T for the floor: a slow disk must not stretch
  // the run, and the rate is the same either way.
  const auto start = Clock::now();
  int pushed = 0;
  while (pushed < tasks && seconds_since(start) < max_seconds) {
    one();
    ++pushed;
  }
  const double seconds = seconds_since(start);
  pg.exec("TRUNCATE pgtq.live_tasks");
  std::printf("{\"figure\":\"push_single\",\"config\":\"%s\",\"rep\":%d,\"tasks\":%d,"
              "\"seconds\":%.4f,\"per_s\":%.1f}\n",
              mode.c_str(),
              common.rep,
              pushed,
              seconds,
              pushed / seconds);
}

void push_bulk(const Common& common, int tasks, int batch) {
  Pg pg(common.dsn);
  const std::vector<pgtq::TaskSpec> specs(static_cast<std::size_t>(batch), pgtq::TaskSpec{"noop"});
  pg.exec("TRUNCATE pgtq.live_tasks");
  pgtq::push_many(pg.get(), common.queue, specs);
  pg.exec("TRUNCATE pgtq.live_tasks");
  const int calls = tasks / batch;
  const auto start = Clock::now();
  for (int i = 0; i < calls; ++i) {
    pgtq::push_many(pg.get(), common.queue, specs);
  }
  const double seconds = seconds_since(start);
  pg.exec("TRUNCATE pgtq.live_tasks");
  std::printf("{\"figure\":\"push_bulk\",\"config\":\"push_many x%d\",\"rep\":%d,\"tasks\":%d,"
              "\"seconds\":%.4f,\"per_s\":%.1f}\n",
              batch,
              common.rep,
              calls * batch,
              seconds,
              calls * batch / seconds);
}

void make_history(const Common& common, long long rows) {
  Pg pg(common.dsn);
  pg.exec("TRUNCATE pgtq.finished_tasks");
  // Shaped like real history: ids from the task sequence, finished one per millisecond in
  // id order (so the BRIN index on finished_at is as tight as in production).
  pg.exec("INSERT INTO pgtq.finished_tasks (id, queue, task, args, state, priority, run_at,"
          " attempts, max_attempts, created_at, started_at, finished_at, locked_by, result,"
          " errors)"
          " SELECT nextval('pgtq.task_id_seq'), $1, 'noop', '[]', 'succeeded', 0, t, 1, 5, t, t,"
          "        t, 'bench:1', 'null', '[]'"
          "   FROM (SELECT now() - ($2::bigint - g) * interval '1 millisecond' AS t"
          "           FROM generate_series(1, $2::bigint) AS g) AS s",
          {common.queue, std::to_string(rows)});
  pg.exec("VACUUM ANALYZE pgtq.finished_tasks");
  std::fprintf(
      stderr,
      "history: %lld finished tasks, %s\n",
      rows,
      pg.value("SELECT pg_size_pretty(pg_total_relation_size('pgtq.finished_tasks'))").c_str());
}

void drain(const Common& common, int tasks, int concurrency, int prefetch) {
  Pg pg(common.dsn);
  const long long first_id =
      queue_noops(pg, common.queue, tasks, common.task, common.fairness_keys);
  const long long history = pg.number(
      "SELECT count(*) FROM pgtq.finished_tasks WHERE id < $1::bigint", {std::to_string(first_id)});
  ServerCpu server_cpu(postmaster_of(pg));
  pg.prepare("left", "SELECT count(*) FROM pgtq.live_tasks");

  server_cpu.start();
  const auto start = Clock::now();
  const long long started_us = realtime_us();
  DaemonProcess daemon(daemon_options(common, concurrency, prefetch));
  MemorySampler memory(daemon.pid(), std::chrono::milliseconds(10));
  const auto deadline = start + std::chrono::seconds(600);
  for (;;) {
    const PgResultPtr left = pg.exec_prepared("left", {});
    const long long remaining = std::atoll(PQgetvalue(left.get(), 0, 0));
    if (remaining == 0) {
      break;
    }
    if (Clock::now() > deadline) {
      throw std::runtime_error("drain: " + std::to_string(remaining) + " tasks left after 600 s");
    }
    // Coarse polling while most of the work is ahead, so the poller costs the server little.
    std::this_thread::sleep_for(remaining > tasks / 10 ? std::chrono::milliseconds(20)
                                                       : std::chrono::milliseconds(2));
  }
  const double seconds = seconds_since(start);
  const double daemon_cpu = cpu_seconds_of(daemon.pid());
  const double postgres_cpu = server_cpu.since_start();
  const long max_rss = memory.max_rss();
  const long hwm = std::max(memory.hwm(), memory_of(daemon.pid()).hwm_kib);
  daemon.stop();
  const long long succeeded = pg.number(
      "SELECT count(*) FROM pgtq.finished_tasks WHERE id >= $1::bigint AND state = 'succeeded'",
      {std::to_string(first_id)});
  if (succeeded != tasks) {
    throw std::runtime_error("drain: " + std::to_string(succeeded) + " of " +
                             std::to_string(tasks) + " tasks succeeded");
  }
  // The first claim's transaction start (same host, same clock): what start-up took, so
  // that the claim loop's own rate can be told from process start-up.
  const double first_claim_s =
      static_cast<double>(pg.number("SELECT (extract(epoch FROM min(started_at)) * 1000000)::bigint"
                                    "  FROM pgtq.finished_tasks WHERE id >= $1::bigint",
                                    {std::to_string(first_id)}) -
                          started_us) /
      1e6;
  // Back to the history this run found, so repetitions all see the same size.
  pg.exec("DELETE FROM pgtq.finished_tasks WHERE id >= $1::bigint", {std::to_string(first_id)});
  std::printf(
      "{\"figure\":\"drain\",\"config\":\"concurrency=%d prefetch=%s%s\",\"concurrency\":%d,"
      "\"prefetch\":%d,\"history\":%lld,\"rep\":%d,\"tasks\":%d,\"seconds\":%.4f,\"per_s\":%.1f,"
      "\"first_claim_s\":%.4f,\"rss_max_kib\":%ld,\"hwm_kib\":%ld,\"pgtqd_cpu_s\":%.2f,"
      "\"postgres_cpu_s\":%.2f,\"isolation\":\"%s\",\"task\":\"%s\"}\n",
      concurrency,
      prefetch < 0 ? "auto" : std::to_string(prefetch).c_str(),
      common.fairness_keys == 0
          ? ""
          : (" fairness_keys=" + std::to_string(common.fairness_keys)).c_str(),
      concurrency,
      prefetch,
      history,
      common.rep,
      tasks,
      seconds,
      tasks / seconds,
      first_claim_s,
      max_rss,
      hwm,
      daemon_cpu,
      postgres_cpu,
      common.isolation.empty() ? "default" : common.isolation.c_str(),
      common.task.c_str());
}

void latency(const Common& common, int warmup, int tasks, int interval_ms, int concurrency) {
  Pg pg(common.dsn);
  pg.exec("TRUNCATE pgtq.live_tasks");
  DaemonProcess daemon(daemon_options(common, concurrency));
  if (!daemon.wait_ready(std::chrono::seconds(30))) {
    throw std::runtime_error("latency: pgtqd did not become ready (see " + common.log_file + ")");
  }
  std::map<long long, long long> acked_at; // task id -> commit acknowledged, us since epoch
  auto next = Clock::now();
  for (int i = 0; i < warmup + tasks; ++i) {
    std::this_thread::sleep_until(next);
    next += std::chrono::milliseconds(interval_ms);
    // Autocommit: pgtq::push returns once the COMMIT is acknowledged.
    const long long id = pgtq::push(pg.get(), common.queue, "stamp");
    const long long acked = realtime_us();
    if (i >= warmup) {
      acked_at[id] = acked;
    }
  }
  const auto deadline = Clock::now() + std::chrono::seconds(30);
  while (pg.number("SELECT count(*) FROM pgtq.live_tasks") > 0) {
    if (Clock::now() > deadline) {
      throw std::runtime_error("latency: tasks still unfinished after 30 s");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  daemon.stop();

  const PgResultPtr rows = pg.exec(
      "SELECT id, (extract(epoch FROM started_at) * 1000000)::bigint, (result->>'t')::bigint"
      "  FROM pgtq.finished_tasks WHERE task = 'stamp' AND state = 'succeeded'");
  std::vector<double> handler_ms, claim_ms;
  for (int row = 0; row < PQntuples(rows.get()); ++row) {
    const auto found = acked_at.find(std::atoll(PQgetvalue(rows.get(), row, 0)));
    if (found == acked_at.end()) {
      continue;
    }
    claim_ms.push_back(
        static_cast<double>(std::atoll(PQgetvalue(rows.get(), row, 1)) - found->second) / 1000.0);
    handler_ms.push_back(
        static_cast<double>(std::atoll(PQgetvalue(rows.get(), row, 2)) - found->second) / 1000.0);
  }
  if (static_cast<int>(handler_ms.size()) != tasks) {
    throw std::runtime_error("latency: " + std::to_string(handler_ms.size()) + " of " +
                             std::to_string(tasks) + " tasks found finished");
  }
  std::sort(handler_ms.begin(), handler_ms.end());
  std::sort(claim_ms.begin(), claim_ms.end());
  pg.exec("DELETE FROM pgtq.finished_tasks WHERE task = 'stamp'");
  std::printf("{\"figure\":\"latency\",\"config\":\"concurrency=%d\",\"rep\":%d,\"tasks\":%d,"
              "\"p50_ms\":%.3f,\"p95_ms\":%.3f,\"p99_ms\":%.3f,\"max_ms\":%.3f,"
              "\"claim_p50_ms\":%.3f,\"claim_p95_ms\":%.3f,\"claim_p99_ms\":%.3f,"
              "\"isolation\":\"%s\"}\n",
              concurrency,
              common.rep,
              tasks,
              percentile(handler_ms, 50),
              percentile(handler_ms, 95),
              percentile(handler_ms, 99),
              handler_ms.back(),
              percentile(claim_ms, 50),
              percentile(claim_ms, 95),
              percentile(claim_ms, 99),
              common.isolation.empty() ? "default" : common.isolation.c_str());
}

void soak(const Common& common, int seconds, int concurrency, int rate) {
  Pg pg(common.dsn);
  pg.exec("TRUNCATE pgtq.live_tasks");
  pg.exec("TRUNCATE pgtq.finished_tasks");
  DaemonProcess daemon(daemon_options(common, concurrency));
  if (!daemon.wait_ready(std::chrono::seconds(30))) {
    throw std::runtime_error("soak: pgtqd did not become ready (see " + common.log_file + ")");
  }
  // Pushes in batches of a tenth of the rate, ten times a second; history older than 30 s
  // is pruned every 10 s, as an operator would, so the disk does not fill.
  const int batch = std::max(1, rate / 10);
  const std::vector<pgtq::TaskSpec> specs(static_cast<std::size_t>(batch), pgtq::TaskSpec{"noop"});
  const auto start = Clock::now();
  auto next = start;
  int second = -1;
  long long pushed = 0;
  std::string samples;
  while (seconds_since(start) < seconds) {
    std::this_thread::sleep_until(next);
    next += std::chrono::milliseconds(100);
    pgtq::push_many(pg.get(), common.queue, specs);
    pushed += batch;
    const int now = static_cast<int>(seconds_since(start));
    if (now != second) {
      second = now;
      const Memory memory = memory_of(daemon.pid());
      samples += (samples.empty() ? "" : ",") + std::string("[") + std::to_string(now) + "," +
                 std::to_string(memory.rss_kib) + "]";
      if (now % 10 == 0) {
        pg.exec("SELECT pgtq.prune(clock_timestamp() - interval '30 seconds')");
      }
    }
  }
  const long long backlog = pg.number("SELECT count(*) FROM pgtq.live_tasks");
  const Memory end = memory_of(daemon.pid());
  const double daemon_cpu = cpu_seconds_of(daemon.pid());
  daemon.stop();
  std::printf("{\"figure\":\"soak\",\"config\":\"concurrency=%d rate=%d/s\",\"rep\":%d,"
              "\"seconds\":%d,\"pushed\":%lld,\"backlog_at_end\":%lld,\"hwm_kib\":%ld,"
              "\"pgtqd_cpu_s\":%.2f,\"rss_kib\":[%s]}\n",
              concurrency,
              rate,
              common.rep,
              seconds,
              pushed,
              backlog,
              end.hwm_kib,
              daemon_cpu,
              samples.c_str());
}

} // namespace pgtq::bench
