-- Two corrections to the worker protocol of 0003:
--   claim   returns its rows in claim order (priority, run_at, id), as documented; an
--           UPDATE's RETURNING rows come in no guaranteed order.
--   release ends a task whose cancellation was requested as cancelled, instead of queueing
--           it to run again (a worker shutting down while a cancel was on its way).

CREATE OR REPLACE FUNCTION pgtq.claim(queue text, task_names text[], max_count integer,
                                      worker text, lease interval DEFAULT interval '15 seconds')
RETURNS TABLE (id bigint, claim integer, task text, args jsonb, attempt integer,
               max_attempts integer)
LANGUAGE plpgsql AS $$
BEGIN
  RETURN QUERY
  WITH picked AS (
    SELECT l.id FROM pgtq.live_tasks l
     WHERE l.queue = claim.queue AND l.state = 'queued' AND l.task = ANY (task_names)
     ORDER BY l.priority, l.run_at, l.id
     LIMIT max_count
       FOR UPDATE SKIP LOCKED
  ), claimed AS (
    UPDATE pgtq.live_tasks l
       SET state = 'running', attempts = l.attempts + 1, claims = l.claims + 1,
           started_at = clock_timestamp(), locked_by = worker,
           locked_until = clock_timestamp() + lease
      FROM picked
     WHERE l.id = picked.id
    RETURNING l.id, l.claims, l.task, l.args, l.attempts, l.max_attempts, l.priority, l.run_at
  )
  SELECT c.id, c.claims, c.task, c.args, c.attempts, c.max_attempts
    FROM claimed c ORDER BY c.priority, c.run_at, c.id;
END $$;

CREATE OR REPLACE FUNCTION pgtq.release(task_ids bigint[], task_claims integer[])
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
  requeued  integer;
  cancelled integer;
  wake      text[];
BEGIN
  WITH held AS (
    SELECT l.id FROM pgtq.live_tasks l
      JOIN unnest(task_ids, task_claims) AS r(id, claim) ON l.id = r.id AND l.claims = r.claim
     WHERE l.state = 'running'
       FOR UPDATE OF l
  ), ending AS (
    DELETE FROM pgtq.live_tasks l USING held
     WHERE l.id = held.id AND l.cancel_requested
    RETURNING l.*
  ), stored AS (
    INSERT INTO pgtq.finished_tasks (id, queue, task, args, state, priority, run_at, attempts,
                                     max_attempts, created_at, started_at, finished_at,
                                     locked_by, result, last_error, errors)
    SELECT e.id, e.queue, e.task, e.args, 'cancelled', e.priority, e.run_at, e.attempts,
           e.max_attempts, e.created_at, e.started_at, clock_timestamp(), e.locked_by, NULL,
           e.last_error, e.errors
      FROM ending e
    RETURNING 1
  ), back AS (
    UPDATE pgtq.live_tasks l
       SET state = 'queued', attempts = l.attempts - 1, locked_by = NULL, locked_until = NULL
      FROM held
     WHERE l.id = held.id AND NOT l.cancel_requested
    RETURNING l.queue
  )
  SELECT (SELECT count(*) FROM back), (SELECT count(*) FROM stored),
         (SELECT array_agg(DISTINCT queue) FROM back)
    INTO requeued, cancelled, wake;
  PERFORM pg_notify('pgtq_wakeup', q) FROM unnest(wake) AS q;
  RETURN requeued + cancelled;
END $$;
