-- Fencing that cannot be guessed, lease renewal that no other session's row lock can hold
-- up, and cancellation that reaches a running task at once.
--
--   claim      Each claim of a task gets a random 64-bit token (live_tasks.claim), quoted by
--              every later call about that attempt. It replaces the claim counter as the
--              fencing token: a counter (usually 1) could be guessed by any role allowed to
--              call the protocol functions, and it was an integer that a task snoozed for
--              long enough would overflow. live_tasks.claims stays as a count of claims,
--              now bigint.
--   heartbeat  Renews each lease on its own: a row locked by another session (an operator's
--              open UPDATE) is skipped and reported "busy" instead of making the whole
--              statement, and every other lease, wait for that lock. One row per task comes
--              back with what happened to it.
--   cancel     Cancelling a running task notifies channel pgtq_cancel with the task id, so
--              its daemon asks the handler to stop at once instead of at its next heartbeat.
--   finish_and_claim is dropped: pgtqd records and claims on two connections since 0006,
--              and nothing else used it.

DROP FUNCTION pgtq.finish_and_claim(jsonb, text, text[], integer, text, interval);
DROP FUNCTION pgtq.claim(text, text[], integer, text, interval);
DROP FUNCTION pgtq.heartbeat(bigint[], integer[], interval);
DROP FUNCTION pgtq.complete(bigint, integer, jsonb);
DROP FUNCTION pgtq.fail(bigint, integer, text, interval, boolean);
DROP FUNCTION pgtq.snooze(bigint, integer, interval);
DROP FUNCTION pgtq.release(bigint[], integer[]);

ALTER TABLE pgtq.live_tasks ALTER COLUMN claims TYPE bigint;
ALTER TABLE pgtq.live_tasks ADD COLUMN claim bigint;
-- Attempts running while this migration applies keep their counter as token.
UPDATE pgtq.live_tasks SET claim = claims WHERE state = 'running';
ALTER TABLE pgtq.live_tasks
  ADD CONSTRAINT live_tasks_claim CHECK ((state = 'running') = (claim IS NOT NULL));
COMMENT ON COLUMN pgtq.live_tasks.claim IS
  'Random token of the current claim (running tasks only); fences every call about the attempt.';
COMMENT ON COLUMN pgtq.live_tasks.claims IS 'How many times the task was claimed.';

-- 64 random bits from the server's strong random source (gen_random_uuid), never 0.
CREATE FUNCTION pgtq.new_claim_token() RETURNS bigint
LANGUAGE sql VOLATILE PARALLEL SAFE AS $$
  SELECT coalesce(nullif(('x' || substr(md5(gen_random_uuid()::text), 1, 16))::bit(64)::bigint, 0), 1)
$$;

CREATE FUNCTION pgtq.claim(queue text, task_names text[], max_count integer, worker text,
                           lease interval DEFAULT interval '15 seconds')
RETURNS TABLE (id bigint, claim bigint, task text, args jsonb, attempt integer,
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
           claim = pgtq.new_claim_token(),
           started_at = clock_timestamp(), locked_by = worker,
           locked_until = clock_timestamp() + lease
      FROM picked
     WHERE l.id = picked.id
    RETURNING l.id, l.claim, l.task, l.args, l.attempts, l.max_attempts, l.priority, l.run_at
  )
  SELECT c.id, c.claim, c.task, c.args, c.attempts, c.max_attempts
    FROM claimed c ORDER BY c.priority, c.run_at, c.id;
END $$;

-- Renews the leases of the tasks still held under these claims, each on its own. Returns one
-- row per task asked about:
--   renewed  the lease now runs until now + lease
--   busy     another session holds the task's row lock; not renewed this time (ask again
--            soon), and no other task waited for it
--   lost     no longer held under this claim (rescued, finished elsewhere): stop working on it
--   cancel   held, renewed, and its cancellation was requested: stop working on it
CREATE FUNCTION pgtq.heartbeat(task_ids bigint[], task_claims bigint[],
                               lease interval DEFAULT interval '15 seconds')
RETURNS TABLE (id bigint, status text)
LANGUAGE plpgsql AS $$
BEGIN
  RETURN QUERY
  WITH asked AS (
    SELECT DISTINCT ON (a.id) a.id, a.claim
      FROM unnest(task_ids, task_claims) AS a(id, claim)
     WHERE a.id IS NOT NULL
  ), lockable AS (
    SELECT l.id FROM pgtq.live_tasks l JOIN asked a ON l.id = a.id AND l.claim = a.claim
     WHERE l.state = 'running'
       FOR UPDATE OF l SKIP LOCKED
  ), renewed AS (
    UPDATE pgtq.live_tasks l SET locked_until = clock_timestamp() + lease
      FROM lockable k
     WHERE l.id = k.id
    RETURNING l.id, l.cancel_requested
  )
  SELECT a.id,
         CASE WHEN r.id IS NOT NULL THEN CASE WHEN r.cancel_requested THEN 'cancel'
                                              ELSE 'renewed' END
              -- Not lockable: a plain read tells "still ours, row locked" from "gone".
              WHEN EXISTS (SELECT 1 FROM pgtq.live_tasks l
                            WHERE l.id = a.id AND l.claim = a.claim AND l.state = 'running')
                THEN 'busy'
              ELSE 'lost' END
    FROM asked a LEFT JOIN renewed r ON r.id = a.id;
END $$;

-- As in 0003, with claims quoted as random bigint tokens.
CREATE OR REPLACE FUNCTION pgtq.finish_many(outcomes jsonb) RETURNS SETOF bigint
LANGUAGE plpgsql AS $$
DECLARE
  accepted bigint[];
  requeued bigint[];
  wake     text[];
  delayed  boolean;
BEGIN
  WITH o AS (
    SELECT * FROM jsonb_to_recordset(outcomes)
      AS x(id bigint, claim bigint, status text, result jsonb, error text, retry_in float8)
  ), ending AS (
    DELETE FROM pgtq.live_tasks l USING o
     WHERE l.id = o.id AND l.claim = o.claim AND l.state = 'running'
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
        AS x(id bigint, claim bigint, status text, error text, retry_in float8)
       WHERE x.status IN ('retry', 'snooze')
    ), again AS (
      UPDATE pgtq.live_tasks l
         SET state = CASE WHEN coalesce(o.retry_in, 0) <= 0 THEN 'queued'
                          ELSE 'scheduled' END::pgtq.task_state,
             run_at = clock_timestamp() + make_interval(secs => greatest(coalesce(o.retry_in, 0), 0)),
             attempts = CASE WHEN o.status = 'snooze' THEN l.attempts - 1 ELSE l.attempts END,
             locked_by = NULL, locked_until = NULL, claim = NULL,
             last_error = CASE WHEN o.status = 'retry' THEN o.error ELSE l.last_error END,
             errors = CASE WHEN o.status = 'retry'
                           THEN l.errors || jsonb_build_array(jsonb_build_object(
                                  'attempt', l.attempts, 'at', clock_timestamp(), 'error', o.error))
                           ELSE l.errors END
        FROM o
       WHERE l.id = o.id AND l.claim = o.claim AND l.state = 'running'
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

CREATE FUNCTION pgtq.complete(id bigint, claim bigint, result jsonb DEFAULT 'null')
RETURNS boolean
LANGUAGE sql AS $$
  SELECT NOT EXISTS (SELECT 1 FROM pgtq.finish_many(jsonb_build_array(jsonb_build_object(
    'id', id, 'claim', claim, 'status', 'done', 'result', result))))
$$;

CREATE FUNCTION pgtq.fail(id bigint, claim bigint, error text, retry_in interval DEFAULT NULL,
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

CREATE FUNCTION pgtq.snooze(id bigint, claim bigint, delay interval) RETURNS boolean
LANGUAGE sql AS $$
  SELECT NOT EXISTS (SELECT 1 FROM pgtq.finish_many(jsonb_build_array(jsonb_build_object(
    'id', id, 'claim', claim, 'status', 'snooze', 'retry_in', extract(epoch FROM delay)))))
$$;

CREATE FUNCTION pgtq.release(task_ids bigint[], task_claims bigint[])
RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
  requeued  integer;
  cancelled integer;
  wake      text[];
BEGIN
  WITH held AS (
    SELECT l.id FROM pgtq.live_tasks l
      JOIN unnest(task_ids, task_claims) AS r(id, claim) ON l.id = r.id AND l.claim = r.claim
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
       SET state = 'queued', attempts = l.attempts - 1, locked_by = NULL, locked_until = NULL,
           claim = NULL
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

-- As in 0003; a running task's daemon is told at once on channel pgtq_cancel (payload: id).
CREATE OR REPLACE FUNCTION pgtq.cancel(id bigint) RETURNS boolean
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
    PERFORM pg_notify('pgtq_cancel', cancel.id::text);
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

-- As in 0003; a rescued task's claim token is cleared with its lease.
CREATE OR REPLACE FUNCTION pgtq.tick(max_count integer DEFAULT 10000,
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
         SET state = 'queued', run_at = clock_timestamp(), locked_until = NULL, claim = NULL,
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
