-- Queues at a glance: one row per queue that has live tasks, tasks that ended in the last
-- hour, settings (pgtq.queues) or live workers. A queue appears here with its first push and
-- needs no row of its own for that: pushes write nothing but their task.
--
-- Cost: one pass over live_tasks (small: queued, scheduled and running tasks only), the last
-- hour of finished_tasks (through its BRIN index on finished_at) and the registry. Meant for
-- dashboards and metrics scraped every few seconds, not for every push.
--
-- The percentiles count the tasks whose last attempt started once it was due (started_at >=
-- run_at): a task cancelled while it waited for a retry keeps the start of its earlier attempt,
-- which says nothing of how long it waited or ran.
CREATE VIEW pgtq.queue_stats AS
  WITH live AS (
    SELECT l.queue,
           count(*) FILTER (WHERE l.state = 'queued') AS queued,
           count(*) FILTER (WHERE l.state = 'scheduled') AS scheduled,
           count(*) FILTER (WHERE l.state = 'running') AS running,
           count(*) FILTER (WHERE l.state = 'pending') AS pending,
           min(l.run_at) FILTER (WHERE l.state = 'queued') AS oldest_queued_at,
           count(DISTINCT l.fairness_key) FILTER (WHERE l.state = 'queued') AS queued_keys
      FROM pgtq.live_tasks l GROUP BY l.queue
  ), recent AS (
    SELECT f.queue,
           count(*) FILTER (WHERE f.state = 'succeeded') AS succeeded,
           count(*) FILTER (WHERE f.state = 'failed') AS failed,
           count(*) FILTER (WHERE f.state = 'cancelled') AS cancelled,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY f.started_at - f.run_at)
             FILTER (WHERE f.started_at >= f.run_at) AS wait_p50,
           percentile_cont(0.95) WITHIN GROUP (ORDER BY f.started_at - f.run_at)
             FILTER (WHERE f.started_at >= f.run_at) AS wait_p95,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY f.finished_at - f.started_at)
             FILTER (WHERE f.started_at >= f.run_at) AS run_p50,
           percentile_cont(0.95) WITHIN GROUP (ORDER BY f.finished_at - f.started_at)
             FILTER (WHERE f.started_at >= f.run_at) AS run_p95
      FROM pgtq.finished_tasks f
     WHERE f.finished_at > now() - interval '1 hour'
     GROUP BY f.queue
  ), workers AS (
    SELECT w.queue, count(*) AS workers, sum(w.concurrency) AS worker_slots
      FROM pgtq.live_workers w GROUP BY w.queue
  ), names AS (
    SELECT live.queue FROM live
    UNION SELECT recent.queue FROM recent
    UNION SELECT q.queue FROM pgtq.queues q
    UNION SELECT workers.queue FROM workers
  )
  SELECT n.queue,
         coalesce(live.queued, 0) AS queued,
         coalesce(live.scheduled, 0) AS scheduled,
         coalesce(live.running, 0) AS running,
         greatest(now() - live.oldest_queued_at, interval '0') AS oldest_queued_age,
         coalesce(recent.succeeded, 0) AS succeeded_last_hour,
         coalesce(recent.failed, 0) AS failed_last_hour,
         coalesce(recent.cancelled, 0) AS cancelled_last_hour,
         coalesce(workers.workers, 0) AS workers,
         coalesce(workers.worker_slots, 0) AS worker_slots,
         coalesce(q.paused, false) AS paused,
         q.global_concurrency, q.rate_limit, q.rate_period,
         q.key_concurrency, coalesce(live.queued_keys, 0) AS queued_keys,
         q.key_rate_limit, q.key_rate_period,
         recent.wait_p50 AS wait_p50_last_hour, recent.wait_p95 AS wait_p95_last_hour,
         recent.run_p50 AS run_p50_last_hour, recent.run_p95 AS run_p95_last_hour,
         coalesce(live.pending, 0) AS pending
    FROM names n
    LEFT JOIN live ON live.queue = n.queue
    LEFT JOIN recent ON recent.queue = n.queue
    LEFT JOIN workers ON workers.queue = n.queue
    LEFT JOIN pgtq.queues q ON q.queue = n.queue;
COMMENT ON VIEW pgtq.queue_stats IS
  'One row per queue with live tasks, tasks ended in the last hour, settings or live workers: queued, scheduled, running, oldest_queued_age (how long the oldest due task has waited), succeeded/failed/cancelled in the last hour, live workers and their slots, paused and limits, queued_keys (how many fairness keys have queued tasks), the rate limit per fairness key, and of the tasks ended in the last hour the median and 95th percentile of their wait (due to started, of the last attempt) and run time (NULL: none started), and pending (tasks waiting for the tasks they depend on).';

-- Throughput and latency per queue and minute over the last hour of the history, for graphs
-- and alerts: one row per queue and minute (UTC, minute) in which tasks of the queue ended:
-- succeeded, failed and cancelled in that minute; wait_p50/p95/p99, how long their last
-- attempt waited to start once due; run_p50/p95/p99, how long it ran. Tasks whose last
-- attempt never started (cancelled while queued, or while waiting for a retry) count in
-- cancelled and in no percentile.
--
-- Cost: the last hour of finished_tasks (through its BRIN index on finished_at), sorted per
-- queue and minute for the percentiles: meant for scrapes every few seconds, not per task.
CREATE VIEW pgtq.queue_minutes AS
  SELECT f.queue, date_bin('1 minute', f.finished_at, timestamptz '2000-01-01 00:00+00') AS minute,
         count(*) FILTER (WHERE f.state = 'succeeded') AS succeeded,
         count(*) FILTER (WHERE f.state = 'failed') AS failed,
         count(*) FILTER (WHERE f.state = 'cancelled') AS cancelled,
         percentile_cont(0.5) WITHIN GROUP (ORDER BY f.started_at - f.run_at)
           FILTER (WHERE f.started_at >= f.run_at) AS wait_p50,
         percentile_cont(0.95) WITHIN GROUP (ORDER BY f.started_at - f.run_at)
           FILTER (WHERE f.started_at >= f.run_at) AS wait_p95,
         percentile_cont(0.99) WITHIN GROUP (ORDER BY f.started_at - f.run_at)
           FILTER (WHERE f.started_at >= f.run_at) AS wait_p99,
         percentile_cont(0.5) WITHIN GROUP (ORDER BY f.finished_at - f.started_at)
           FILTER (WHERE f.started_at >= f.run_at) AS run_p50,
         percentile_cont(0.95) WITHIN GROUP (ORDER BY f.finished_at - f.started_at)
           FILTER (WHERE f.started_at >= f.run_at) AS run_p95,
         percentile_cont(0.99) WITHIN GROUP (ORDER BY f.finished_at - f.started_at)
           FILTER (WHERE f.started_at >= f.run_at) AS run_p99
    FROM pgtq.finished_tasks f
   WHERE f.finished_at >= date_bin('1 minute', now(), timestamptz '2000-01-01 00:00+00')
                         - interval '1 hour'
   GROUP BY 1, 2;
COMMENT ON VIEW pgtq.queue_minutes IS
  'Per queue and minute of the last hour in which its tasks ended: succeeded, failed, cancelled; wait_p50/p95/p99 (due to started, of the last attempt) and run_p50/p95/p99 (started to finished) of the tasks that started.';
