#include "metrics/metrics_page.hpp"

#include "metrics/exposition.hpp"

#include <map>

namespace pgtq::metrics {
namespace {

double number(const std::atomic<std::uint64_t>& counter) {
  return static_cast<double>(counter.load(std::memory_order_relaxed));
}

double number(const std::atomic<std::int64_t>& counter) {
  return static_cast<double>(counter.load(std::memory_order_relaxed));
}

void database_figures(Exposition& out, const QueueFigures::Reading& db) {
  out.family("pgtq_database_up",
             "gauge",
             "1 if the last read of the queue figures from the database succeeded");
  out.sample("pgtq_database_up", {}, db.ok ? 1 : 0);
  out.family("pgtq_queue_figures_age_seconds",
             "gauge",
             "How old the pgtq_queue_* figures are (they are read at most every few seconds)");
  if (db.ok) { // a 0 would read as fresh
    out.sample("pgtq_queue_figures_age_seconds", {}, db.age_s);
  }

  out.family("pgtq_queue_tasks", "gauge", "Live tasks of the queue by state, in the database");
  for (const QueueFigure& q : db.queues) {
    out.sample("pgtq_queue_tasks", {{"queue", q.queue}, {"state", "queued"}}, double(q.queued));
    out.sample(
        "pgtq_queue_tasks", {{"queue", q.queue}, {"state", "scheduled"}}, double(q.scheduled));
    out.sample("pgtq_queue_tasks", {{"queue", q.queue}, {"state", "running"}}, double(q.running));
    out.sample("pgtq_queue_tasks", {{"queue", q.queue}, {"state", "pending"}}, double(q.pending));
  }
  out.family("pgtq_queue_oldest_queued_age_seconds",
             "gauge",
             "How long the queue's oldest due task has waited to be claimed (0: none waits)");
  for (const QueueFigure& q : db.queues) {
    out.sample("pgtq_queue_oldest_queued_age_seconds", {{"queue", q.queue}}, q.oldest_queued_age_s);
  }
  out.family("pgtq_queue_live_workers",
             "gauge",
             "pgtqd processes serving the queue that are alive (the worker registry)");
  for (const QueueFigure& q : db.queues) {
    out.sample("pgtq_queue_live_workers", {{"queue", q.queue}}, double(q.workers));
  }
  out.family("pgtq_queue_worker_slots",
             "gauge",
             "Tasks of the queue that its live pgtqd may run at once, summed");
  for (const QueueFigure& q : db.queues) {
    out.sample("pgtq_queue_worker_slots", {{"queue", q.queue}}, double(q.worker_slots));
  }
  out.family("pgtq_queue_paused", "gauge", "1 if the queue is paused");
  for (const QueueFigure& q : db.queues) {
    out.sample("pgtq_queue_paused", {{"queue", q.queue}}, q.paused ? 1 : 0);
  }
}

// A family with one sample per loop: value(state) labelled by queue.
template <typename Value>
void per_loop(Exposition& out,
              const std::vector<LoopView>& loops,
              std::string_view name,
              std::string_view type,
              std::string_view help,
              Value value) {
  out.family(name, type, help);
  for (const LoopView& loop : loops) {
    out.sample(name, {{"queue", loop.queue}}, value(loop));
  }
}

void daemon_figures(Exposition& out, const std::vector<LoopView>& loops) {
  per_loop(out,
           loops,
           "pgtq_workers",
           "gauge",
           "Tasks this pgtqd may run at once for the queue",
           [](const LoopView& loop) { return double(loop.concurrency); });
  per_loop(out,
           loops,
           "pgtq_workers_busy",
           "gauge",
           "Workers of this pgtqd running a task of the queue now",
           [](const LoopView& loop) { return double(loop.state->busy.load()); });
  per_loop(out,
           loops,
           "pgtq_database_connected",
           "gauge",
           "1 if the queue's claim loop has its database sessions",
           [](const LoopView& loop) { return loop.state->db_connected.load() ? 1.0 : 0.0; });
  per_loop(out,
           loops,
           "pgtq_draining",
           "gauge",
           "1 once a stop was asked for: no more claims, running tasks finish",
           [](const LoopView& loop) { return loop.state->drain.load() ? 1.0 : 0.0; });
  per_loop(out,
           loops,
           "pgtq_claim_queries_total",
           "counter",
           "Claim statements run for the queue",
           [](const LoopView& loop) { return number(loop.state->metrics.claim_queries); });
  per_loop(out,
           loops,
           "pgtq_claimed_tasks_total",
           "counter",
           "Tasks of the queue claimed",
           [](const LoopView& loop) { return number(loop.state->metrics.claimed); });
  per_loop(out,
           loops,
           "pgtq_database_reconnects_total",
           "counter",
           "Database sessions of the queue's claim loop re-established after a loss",
           [](const LoopView& loop) { return number(loop.state->metrics.reconnects); });
  per_loop(out,
           loops,
           "pgtq_worker_process_restarts_total",
           "counter",
           "Worker processes started again (isolation = process): after a crash, a timeout "
           "kill, a memory limit, or a death while idle",
           [](const LoopView& loop) { return number(loop.state->worker_restarts); });

  out.family("pgtq_wakeups_total",
             "counter",
             "Claim loop turns woken by a notification (a push) or by the poll timer");
  for (const LoopView& loop : loops) {
    out.sample("pgtq_wakeups_total",
               {{"queue", loop.queue}, {"reason", "notification"}},
               number(loop.state->metrics.notify_wakeups));
    out.sample("pgtq_wakeups_total",
               {{"queue", loop.queue}, {"reason", "poll"}},
               number(loop.state->metrics.poll_wakeups));
  }

  std::vector<std::pair<const LoopView*, std::map<std::string, queue::TaskFigures>>> tasks;
  for (const LoopView& loop : loops) {
    tasks.emplace_back(&loop, loop.state->metrics.tasks());
  }
  out.family("pgtq_attempts_total",
             "counter",
             "Attempts recorded, by what became of them: succeeded, retried, failed (for good), "
             "snoozed, cancelled, discarded (the lease was lost first)");
  for (const auto& [loop, by_name] : tasks) {
    for (const auto& [name, f] : by_name) {
      for (std::size_t ending = 0; ending < queue::k_ending_names.size(); ++ending) {
        out.sample(
            "pgtq_attempts_total",
            {{"queue", loop->queue}, {"task", name}, {"outcome", queue::k_ending_names[ending]}},
            double(f.endings[ending]));
      }
    }
  }
  out.family("pgtq_attempt_timeouts_total",
             "counter",
             "Attempts that ran out of time (their handler stopped, or its worker process was "
             "killed)");
  for (const auto& [loop, by_name] : tasks) {
    for (const auto& [name, f] : by_name) {
      out.sample("pgtq_attempt_timeouts_total",
                 {{"queue", loop->queue}, {"task", name}},
                 double(f.timeouts));
    }
  }
  out.family("pgtq_attempt_crashes_total",
             "counter",
             "Attempts whose worker process died under them (isolation = process)");
  for (const auto& [loop, by_name] : tasks) {
    for (const auto& [name, f] : by_name) {
      out.sample("pgtq_attempt_crashes_total",
                 {{"queue", loop->queue}, {"task", name}},
                 double(f.crashes));
    }
  }
  out.family(
      "pgtq_handler_duration_seconds", "histogram", "How long handlers ran, per recorded attempt");
  for (const auto& [loop, by_name] : tasks) {
    for (const auto& [name, f] : by_name) {
      out.histogram("pgtq_handler_duration_seconds",
                    {{"queue", loop->queue}, {"task", name}},
                    queue::DurationHistogram::k_bounds,
                    f.duration.buckets,
                    f.duration.count,
                    f.duration.sum);
    }
  }
}

void scheduler_figures(Exposition& out, const queue::Scheduler::Counters& s) {
  out.family("pgtq_scheduler_ticks_total", "counter", "Scheduler ticks this pgtqd ran");
  out.sample("pgtq_scheduler_ticks_total", {}, number(s.ticks));
  out.family("pgtq_scheduler_errors_total", "counter", "Scheduler ticks that failed");
  out.sample("pgtq_scheduler_errors_total", {}, number(s.errors));
  out.family("pgtq_scheduler_promoted_tasks_total",
             "counter",
             "Scheduled tasks (delayed, retried, snoozed) this pgtqd's ticks made due");
  out.sample("pgtq_scheduler_promoted_tasks_total", {}, number(s.promoted));
  out.family("pgtq_rescued_tasks_total",
             "counter",
             "Tasks whose lease expired (their pgtqd died or lost the database), found by this "
             "pgtqd's ticks: requeued, or failed when no attempt was left");
  out.sample("pgtq_rescued_tasks_total", {{"outcome", "requeued"}}, number(s.rescued));
  out.sample("pgtq_rescued_tasks_total", {{"outcome", "failed"}}, number(s.expired_failed));
}

void process_figures(Exposition& out, const ProcessFigures& p) {
  out.family("process_cpu_seconds_total", "counter", "User and system CPU time spent, seconds");
  out.sample("process_cpu_seconds_total", {}, p.cpu_seconds);
  out.family("process_resident_memory_bytes", "gauge", "Resident memory size in bytes");
  out.sample("process_resident_memory_bytes", {}, p.resident_bytes);
  out.family("process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes");
  out.sample("process_virtual_memory_bytes", {}, p.virtual_bytes);
  out.family("process_start_time_seconds",
             "gauge",
             "Start time of the process since the Unix epoch, seconds");
  out.sample("process_start_time_seconds", {}, p.start_time_seconds);
  out.family("process_open_fds", "gauge", "Open file descriptors");
  out.sample("process_open_fds", {}, p.open_fds);
  out.family("process_max_fds", "gauge", "Maximum number of open file descriptors");
  out.sample("process_max_fds", {}, p.max_fds);
}

} // namespace

std::string render_metrics(const PageSources& sources) {
  Exposition out;
  out.family("pgtq_build_info", "gauge", "pgtqd's version, as a label; the value is 1");
  out.sample("pgtq_build_info", {{"version", sources.version}}, 1);
  database_figures(out, sources.database);
  daemon_figures(out, sources.loops);
  if (sources.scheduler != nullptr) {
    scheduler_figures(out, *sources.scheduler);
  }
  if (sources.process) {
    process_figures(out, *sources.process);
  }
  return out.text();
}

} // namespace pgtq::metrics
