-- Giving tasks back and cancelling them.

-- Gives tasks back unfinished (a worker shutting down): queued again at once, the attempt
-- given back (never below 0). A task whose cancellation was requested ends cancelled
-- instead. The arrays must have the same length; NULL elements match nothing, a task named
-- twice counts once. Returns how many were still held.
CREATE FUNCTION pgtq.release(task_ids bigint[], task_claims bigint[])
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  requeued  integer;
  cancelled integer;
  wake      text[];
  ended     text[];
  ended_ids bigint[];
BEGIN
  PERFORM pgtq.check_id_claims('pgtq.release', task_ids, task_claims);
  WITH held AS (
    SELECT l.id FROM pgtq.live_tasks l
      JOIN (SELECT DISTINCT u.id, u.claim FROM unnest(task_ids, task_claims) AS u(id, claim)) r
        ON l.id = r.id AND l.claim = r.claim
     WHERE l.state = 'running'
       FOR UPDATE OF l
  ), ending AS (
    DELETE FROM pgtq.live_tasks l USING held
     WHERE l.id = held.id AND l.cancel_requested
    RETURNING l AS task
  ), stored AS (
    INSERT INTO pgtq.finished_tasks
    SELECT (pgtq.finished_row(e.task, 'cancelled', NULL, (e.task).last_error, false)).*
      FROM ending e
    RETURNING id, queue
  ), back AS (
    UPDATE pgtq.live_tasks l
       SET state = 'queued', attempts = greatest(l.attempts - 1, 0), locked_by = NULL,
           locked_until = NULL, claim = NULL
      FROM held
     WHERE l.id = held.id AND NOT l.cancel_requested
    RETURNING l.queue
  )
  SELECT (SELECT count(*) FROM back), (SELECT count(*) FROM stored),
         (SELECT array_agg(DISTINCT queue) FROM back), (SELECT array_agg(queue) FROM stored),
         (SELECT array_agg(id) FROM stored)
    INTO requeued, cancelled, wake, ended, ended_ids;
  PERFORM pgtq.wake_queue(q) FROM unnest(wake) AS q WHERE octet_length(q) < 7900;
  IF ended IS NOT NULL THEN
    PERFORM pgtq.wake_limited(ended); -- a cancelled task of a limited queue leaves room
    PERFORM pgtq.tasks_ended(ended_ids);
  END IF;
  RETURN requeued + cancelled;
END $$;
COMMENT ON FUNCTION pgtq.release(bigint[], bigint[]) IS
'Gives claimed tasks back unfinished: queued again, attempt given back (a task whose cancellation was requested ends cancelled). Arrays of equal length; NULL elements match nothing; a task named twice counts once. Returns how many were still held. Errors: 22004 NULL array, 22023 lengths differ.';

-- Cancels a task: a pending, queued or scheduled one ends cancelled at once; a running one is asked
-- to stop and ends cancelled unless it succeeds. Its daemon is told at once on channel
-- pgtq_cancel (payload: the id), and sees it at the next heartbeat otherwise. Returns false
-- when the task is unknown or already finished.
CREATE FUNCTION pgtq.cancel(id bigint) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  found_state pgtq.task_state;
BEGIN
  IF cancel.id IS NULL THEN
    RAISE EXCEPTION 'pgtq.cancel: id must not be NULL' USING ERRCODE = 'null_value_not_allowed';
  END IF;
  SELECT l.state INTO found_state FROM pgtq.live_tasks l WHERE l.id = cancel.id FOR UPDATE;
  IF NOT FOUND THEN
    RETURN false;
  END IF;
  IF found_state = 'running' THEN
    UPDATE pgtq.live_tasks l SET cancel_requested = true WHERE l.id = cancel.id;
    PERFORM pg_notify('pgtq_cancel', cancel.id::text);
    RETURN true;
  END IF;
  WITH gone AS (DELETE FROM pgtq.live_tasks l WHERE l.id = cancel.id RETURNING l AS task)
  INSERT INTO pgtq.finished_tasks
  SELECT (pgtq.finished_row(g.task, 'cancelled', NULL, (g.task).last_error, false)).*
    FROM gone g;
  PERFORM pgtq.tasks_ended(ARRAY[cancel.id]);
  RETURN true;
END $$;
COMMENT ON FUNCTION pgtq.cancel(bigint) IS
'Cancels a task: a waiting one ends cancelled, a running one is asked to stop (NOTIFY pgtq_cancel). False: unknown or already finished. Errors: 22004 NULL id.';
