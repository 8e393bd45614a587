-- Queues at a glance: one row per queue that has live tasks, tasks that ended in the last
-- hour, settings (pgtq.queues) or live workers. A queue appears here with its first push and
-- needs no row of its own for that: pushes write nothing but their task.
--
-- Cost: one pass over live_tasks (small: queued, scheduled and running tasks only), the last
-- hour of finished_tasks (through its BRIN index on finished_at) and the registry. Meant for
-- dashboards and metrics scraped every few seconds, not for every push.
CREATE VIEW pgtq.queue_stats AS
  WITH live AS (
    SELECT l.queue,
           count(*) FILTER (WHERE l.state = 'queued') AS queued,
           count(*) FILTER (WHERE l.state = 'scheduled') AS scheduled,
           count(*) FILTER (WHERE l.state = 'running') AS running,
           min(l.run_at) FILTER (WHERE l.state = 'queued') AS oldest_queued_at,
           count(DISTINCT l.fairness_key) FILTER (WHERE l.state = 'queued') AS queued_keys
      FROM pgtq.live_tasks l GROUP BY l.queue
  ), recent AS (
    SELECT f.queue,
           count(*) FILTER (WHERE f.state = 'succeeded') AS succeeded,
           count(*) FILTER (WHERE f.state = 'failed') AS failed,
           count(*) FILTER (WHERE f.state = 'cancelled') AS cancelled
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
         q.key_rate_limit, q.key_rate_period
    FROM names n
    LEFT JOIN live ON live.queue = n.queue
    LEFT JOIN recent ON recent.queue = n.queue
    LEFT JOIN workers ON workers.queue = n.queue
    LEFT JOIN pgtq.queues q ON q.queue = n.queue;
COMMENT ON VIEW pgtq.queue_stats IS
  'One row per queue with live tasks, tasks ended in the last hour, settings or live workers: queued, scheduled, running, oldest_queued_age (how long the oldest due task has waited), succeeded/failed/cancelled in the last hour, live workers and their slots, paused and limits, queued_keys (how many fairness keys have queued tasks), the rate limit per fairness key.';
