-- The worker protocol: claim, heartbeat, finish, release, and the scheduler's tick.
--
-- pgtqd uses exactly these functions, and so can a program in any language that wants to
-- work tasks itself ("pop"). Every call after the claim is fenced by (id, claim): the
-- claim number the task had when it was handed out. Once a lease expired and the task was
-- rescued or claimed again, the old (id, claim) matches nothing, so a late outcome from the
-- lost worker changes nothing and the call reports it as not accepted.

-- Exponential backoff with +-20 % jitter, in seconds: base * factor^(attempt-1), capped.
CREATE FUNCTION pgtq.backoff(attempt integer, base float8 DEFAULT 1, factor float8 DEFAULT 2,
                             cap float8 DEFAULT 3600) RETURNS float8
LANGUAGE sql VOLATILE AS $$
  SELECT least(cap, base * power(factor, greatest(attempt - 1, 0)))
         * (0.8 + 0.4 * random())
$$;

-- Claims up to max_count queued tasks of one queue whose names are in task_names, in
-- (priority, run_at, id) order, skipping rows other workers are claiming right now.
CREATE FUNCTION pgtq.claim(queue text, task_names text[], max_count integer, worker text,
                           lease interval DEFAULT interval '15 seconds')
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
  )
  UPDATE pgtq.live_tasks l
     SET state = 'running', attempts = l.attempts + 1, claims = l.claims + 1,
         started_at = clock_timestamp(), locked_by = worker,
         locked_until = clock_timestamp() + lease
    FROM picked
   WHERE l.id = picked.id
  RETURNING l.id, l.claims, l.task, l.args, l.attempts, l.max_attempts;
END $$;

-- Extends the lease of the tasks still held under these claims. Returns the ids the caller
-- must stop working on: lost (rescued, or finished by someone else) or cancel requested.
CREATE FUNCTION pgtq.heartbeat(task_ids bigint[], task_claims integer[],
                               lease interval DEFAULT interval '15 seconds')
RETURNS SETOF bigint
LANGUAGE plpgsql AS $$
BEGIN
  RETURN QUERY
  WITH held AS (
    UPDATE pgtq.live_tasks l SET locked_until = clock_timestamp() + lease
      FROM unnest(task_ids, task_claims) AS h(id, claim)
     WHERE l.id = h.id AND l.claims = h.claim AND l.state = 'running'
    RETURNING l.id, l.cancel_requested
  )
  SELECT h.id FROM unnest(task_ids) AS h(id)
   WHERE NOT EXISTS (SELECT 1 FROM held WHERE held.id = h.id AND NOT held.cancel_requested);
END $$;

-- Records many outcomes in one statement batch. outcomes is a JSON array of
--   {"id": n, "claim": n, "status": "done"|"retry"|"fail"|"snooze",
--    "result": json, "error": "text", "retry_in": seconds}
-- done   -> succeeded, with result
-- fail   -> failed now (permanent error), error kept
-- retry  -> scheduled again after retry_in seconds, error kept; failed when no attempts are left
-- snooze -> scheduled again after retry_in seconds; gives its attempt back
-- A task whose cancellation was requested ends cancelled instead of being retried.
-- Returns the ids whose outcome was discarded because their claim is no longer current.
CREATE FUNCTION pgtq.finish_many(outcomes jsonb) RETURNS SETOF bigint
LANGUAGE plpgsql AS $$
DECLARE
  accepted bigint[];
  requeued bigint[];
  wake     text[];
  delayed  boolean;
BEGIN
  WITH o AS (
    SELECT * FROM jsonb_to_recordset(outcomes)
      AS x(id bigint, claim integer, status text, result jsonb, error text, retry_in float8)
  ), ending AS (
    DELETE FROM pgtq.live_tasks l USING o
     WHERE l.id = o.id AND l.claims = o.claim AND l.state = 'running'
       AND (o.status IN ('done', 'fail') OR l.cancel_requested OR l.attempts >= l.max_attempts
            AND o.status = 'retry')
    RETURNING l.*, o.status AS outcome, o.result AS outcome_result, o.error AS outcome_error
  ), stored AS (
    INSERT INTO pgtq.finished_tasks (id, queue, task, args, state, priority, run_at, attempts,
                                     max_attempts, created_at, started_at, finished_at,
                                     locked_by, result, last_error, errors)
    SELECT e.id, e.queue, e.task, e.args,
           CASE WHEN e.outcome = 'done' THEN 'succeeded'
                WHEN e.cancel_requested THEN 'cancelled'
                ELSE 'failed' END::pgtq.task_state,
           e.priority, e.run_at, e.attempts, e.max_attempts, e.created_at, e.started_at,
           clock_timestamp(), e.locked_by,
           CASE WHEN e.outcome = 'done' THEN coalesce(e.outcome_result, 'null'::jsonb) END,
           CASE WHEN e.outcome = 'done' THEN e.last_error ELSE e.outcome_error END,
           CASE WHEN e.outcome IN ('fail', 'retry')
                THEN e.errors || jsonb_build_array(jsonb_build_object(
                       'attempt', e.attempts, 'at', clock_timestamp(), 'error', e.outcome_error))
                ELSE e.errors END
      FROM ending e
    RETURNING id
  )
  SELECT array_agg(id) INTO accepted FROM stored;

  -- Most batches hold only "done" outcomes: then there is nothing to schedule again.
  IF outcomes @? '$[*] ? (@.status == "retry" || @.status == "snooze")' THEN
    WITH o AS (
      SELECT * FROM jsonb_to_recordset(outcomes)
        AS x(id bigint, claim integer, status text, error text, retry_in float8)
       WHERE x.status IN ('retry', 'snooze')
    ), again AS (
      UPDATE pgtq.live_tasks l
         SET state = CASE WHEN coalesce(o.retry_in, 0) <= 0 THEN 'queued'
                          ELSE 'scheduled' END::pgtq.task_state,
             run_at = clock_timestamp() + make_interval(secs => greatest(coalesce(o.retry_in, 0), 0)),
             attempts = CASE WHEN o.status = 'snooze' THEN l.attempts - 1 ELSE l.attempts END,
             locked_by = NULL, locked_until = NULL,
             last_error = CASE WHEN o.status = 'retry' THEN o.error ELSE l.last_error END,
             errors = CASE WHEN o.status = 'retry'
                           THEN l.errors || jsonb_build_array(jsonb_build_object(
                                  'attempt', l.attempts, 'at', clock_timestamp(), 'error', o.error))
                           ELSE l.errors END
        FROM o
       WHERE l.id = o.id AND l.claims = o.claim AND l.state = 'running'
      RETURNING l.id, l.queue, l.state
    )
    SELECT array_agg(id), array_agg(DISTINCT queue) FILTER (WHERE state = 'queued'),
           bool_or(state = 'scheduled')
      INTO requeued, wake, delayed FROM again;

    IF wake IS NOT NULL THEN
      PERFORM pg_notify('pgtq_wakeup', q) FROM unnest(wake) AS q;
    END IF;
    IF delayed THEN
      PERFORM pg_notify('pgtq_scheduled', '');
    END IF;
  END IF;

  -- Every outcome accepted (the usual case): nothing to report, no need to read them again.
  IF coalesce(cardinality(accepted), 0) + coalesce(cardinality(requeued), 0)
     = jsonb_array_length(outcomes) THEN
    RETURN;
  END IF;
  RETURN QUERY
  SELECT x.id FROM jsonb_to_recordset(outcomes) AS x(id bigint)
   WHERE x.id <> ALL (coalesce(accepted, '{}') || coalesce(requeued, '{}'));
END $$;

-- One outcome at a time, for programs that work tasks themselves. Each returns whether the
-- outcome was accepted (false: the claim is no longer current, nothing was changed).
CREATE FUNCTION pgtq.complete(id bigint, claim integer, result jsonb DEFAULT 'null')
RETURNS boolean
LANGUAGE sql AS $$
  SELECT NOT EXISTS (SELECT 1 FROM pgtq.finish_many(jsonb_build_array(jsonb_build_object(
    'id', id, 'claim', claim, 'status', 'done', 'result', result))))
$$;

-- retry_in NULL: pgtq.backoff(attempt). permanent: fail now, whatever attempts are left.
CREATE FUNCTION pgtq.fail(id bigint, claim integer, error text, retry_in interval DEFAULT NULL,
                          permanent boolean DEFAULT false)
RETURNS boolean
LANGUAGE sql AS $$
  SELECT NOT EXISTS (SELECT 1 FROM pgtq.finish_many(jsonb_build_array(jsonb_build_object(
    'id', id, 'claim', claim, 'status', CASE WHEN permanent THEN 'fail' ELSE 'retry' END,
    'error', error,
    'retry_in', coalesce(extract(epoch FROM retry_in)::float8,
                         pgtq.backoff((SELECT attempts FROM pgtq.live_tasks l
                                        WHERE l.id = fail.id)))))))
$$;

-- Run again after delay without using up an attempt.
CREATE FUNCTION pgtq.snooze(id bigint, claim integer, delay interval) RETURNS boolean
LANGUAGE sql AS $$
  SELECT NOT EXISTS (SELECT 1 FROM pgtq.finish_many(jsonb_build_array(jsonb_build_object(
    'id', id, 'claim', claim, 'status', 'snooze', 'retry_in', extract(epoch FROM delay)))))
$$;

-- Gives tasks back unfinished (a worker shutting down): queued again at once, attempt
-- given back. Returns how many were still held.
CREATE FUNCTION pgtq.release(task_ids bigint[], task_claims integer[]) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
  released integer;
  wake     text[];
BEGIN
  WITH back AS (
    UPDATE pgtq.live_tasks l
       SET state = 'queued', attempts = l.attempts - 1, locked_by = NULL, locked_until = NULL
      FROM unnest(task_ids, task_claims) AS r(id, claim)
     WHERE l.id = r.id AND l.claims = r.claim AND l.state = 'running'
    RETURNING l.queue
  )
  SELECT count(*), array_agg(DISTINCT queue) INTO released, wake FROM back;
  PERFORM pg_notify('pgtq_wakeup', q) FROM unnest(wake) AS q;
  RETURN released;
END $$;

-- Cancels a task: a queued or scheduled one ends cancelled at once; a running one is asked
-- to stop (its worker sees it at the next heartbeat) and ends cancelled unless it succeeds.
-- Returns false when the task is unknown or already finished.
CREATE FUNCTION pgtq.cancel(id bigint) RETURNS boolean
LANGUAGE plpgsql AS $$
DECLARE
  found_state pgtq.task_state;
BEGIN
  SELECT l.state INTO found_state FROM pgtq.live_tasks l WHERE l.id = cancel.id FOR UPDATE;
  IF NOT FOUND THEN
    RETURN false;
  END IF;
  IF found_state = 'running' THEN
    UPDATE pgtq.live_tasks l SET cancel_requested = true WHERE l.id = cancel.id;
    RETURN true;
  END IF;
  WITH gone AS (DELETE FROM pgtq.live_tasks l WHERE l.id = cancel.id RETURNING l.*)
  INSERT INTO pgtq.finished_tasks (id, queue, task, args, state, priority, run_at, attempts,
                                   max_attempts, created_at, started_at, finished_at,
                                   locked_by, result, last_error, errors)
  SELECT g.id, g.queue, g.task, g.args, 'cancelled', g.priority, g.run_at, g.attempts,
         g.max_attempts, g.created_at, g.started_at, clock_timestamp(), g.locked_by, NULL,
         g.last_error, g.errors
    FROM gone g;
  RETURN true;
END $$;

-- The scheduler's periodic work, safe to run from any number of daemons at once:
--   1. scheduled tasks whose run_at has come become queued (and their queues are woken);
--   2. running tasks whose lease expired are rescued: queued again, the attempt counted and
--      an error recorded, or failed when no attempts are left.
-- Only one caller at a time does the work (a transaction-level advisory lock); the others
-- return at once. Returns the counts and the next run_at among scheduled tasks, so the
-- caller can sleep until then.
CREATE FUNCTION pgtq.tick(max_count integer DEFAULT 10000,
                          OUT promoted integer, OUT rescued integer, OUT failed integer,
                          OUT next_due timestamptz)
LANGUAGE plpgsql AS $$
DECLARE
  wake text[];
  rescue_wake text[];
BEGIN
  promoted := 0; rescued := 0; failed := 0;
  IF pg_try_advisory_xact_lock(hashtext('pgtq.tick')) THEN
    WITH due AS (
      SELECT l.id FROM pgtq.live_tasks l
       WHERE l.state = 'scheduled' AND l.run_at <= clock_timestamp()
       ORDER BY l.run_at LIMIT max_count FOR UPDATE SKIP LOCKED
    ), moved AS (
      UPDATE pgtq.live_tasks l SET state = 'queued' FROM due WHERE l.id = due.id
      RETURNING l.queue
    )
    SELECT count(*), array_agg(DISTINCT queue) INTO promoted, wake FROM moved;

    WITH expired AS (
      SELECT l.id FROM pgtq.live_tasks l
       WHERE l.state = 'running' AND l.locked_until < clock_timestamp()
       ORDER BY l.locked_until LIMIT max_count FOR UPDATE SKIP LOCKED
    ), ending AS (
      DELETE FROM pgtq.live_tasks l USING expired
       WHERE l.id = expired.id AND (l.attempts >= l.max_attempts OR l.cancel_requested)
      RETURNING l.*
    ), stored AS (
      INSERT INTO pgtq.finished_tasks (id, queue, task, args, state, priority, run_at,
                                       attempts, max_attempts, created_at, started_at,
                                       finished_at, locked_by, result, last_error, errors)
      SELECT e.id, e.queue, e.task, e.args,
             CASE WHEN e.cancel_requested THEN 'cancelled' ELSE 'failed' END::pgtq.task_state,
             e.priority, e.run_at, e.attempts, e.max_attempts, e.created_at, e.started_at,
             clock_timestamp(), e.locked_by, NULL,
             'lease expired: worker ' || coalesce(e.locked_by, '?') || ' stopped renewing it',
             e.errors || jsonb_build_array(jsonb_build_object(
               'attempt', e.attempts, 'at', clock_timestamp(),
               'error', 'lease expired: worker ' || coalesce(e.locked_by, '?')
                        || ' stopped renewing it'))
        FROM ending e
      RETURNING 1
    ), back AS (
      UPDATE pgtq.live_tasks l
         SET state = 'queued', run_at = clock_timestamp(), locked_until = NULL,
             last_error = 'lease expired: worker ' || coalesce(l.locked_by, '?')
                          || ' stopped renewing it',
             errors = l.errors || jsonb_build_array(jsonb_build_object(
               'attempt', l.attempts, 'at', clock_timestamp(),
               'error', 'lease expired: worker ' || coalesce(l.locked_by, '?')
                        || ' stopped renewing it')),
             locked_by = NULL
        FROM expired
       WHERE l.id = expired.id AND l.attempts < l.max_attempts AND NOT l.cancel_requested
      RETURNING l.queue
    )
    SELECT (SELECT count(*) FROM back), (SELECT count(*) FROM stored),
           (SELECT array_agg(DISTINCT queue) FROM back)
      INTO rescued, failed, rescue_wake;

    PERFORM pg_notify('pgtq_wakeup', q)
       FROM (SELECT unnest(coalesce(wake, '{}') || coalesce(rescue_wake, '{}')) AS q) w
      GROUP BY q;
  END IF;
  SELECT min(l.run_at) INTO next_due FROM pgtq.live_tasks l WHERE l.state = 'scheduled';
END $$;

-- Deletes finished tasks that ended before the given time. Returns how many.
CREATE FUNCTION pgtq.prune(finished_before timestamptz) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
  removed bigint;
BEGIN
  DELETE FROM pgtq.finished_tasks f WHERE f.finished_at < finished_before;
  GET DIAGNOSTICS removed = ROW_COUNT;
  RETURN removed;
END $$;
