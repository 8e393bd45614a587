-- A global concurrency limit per queue: pgtq.queues.global_concurrency, set with
-- pgtq.set_global_concurrency. pgtq.claim hands out no more than the limit less the queue's
-- running tasks (claims of a limited queue take turns), and finish_many wakes a limited
-- queue's waiting workers when its tasks stop running.

ALTER TABLE pgtq.queues ADD COLUMN global_concurrency integer
  CONSTRAINT queues_global_concurrency CHECK (global_concurrency BETWEEN 1 AND 100000);
COMMENT ON TABLE pgtq.queues IS
  'Queue settings: paused (no claims while true, pushes still accepted), global_concurrency (at most this many tasks running at once across every worker; NULL: no limit). A queue without a row has the defaults.';

CREATE OR REPLACE FUNCTION pgtq.claim(queue text, task_names text[], max_count integer,
                           worker text, lease interval DEFAULT interval '15 seconds')
RETURNS TABLE (id bigint, claim bigint, task text, args jsonb, attempt integer,
               max_attempts integer, timeout interval)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_generic_plan SET enable_seqscan = off SET jit = off AS $$
DECLARE
  picked     bigint[];
  token_base bigint;
  take       integer := max_count;
  capped     boolean := false; -- this call took its turn and counted the room left
  room       integer;
BEGIN
  IF NOT (claim.queue ~ '^[A-Za-z0-9_.:-]+$' AND length(claim.queue) <= 128
          AND cardinality(task_names) <= 10000
          AND max_count BETWEEN 0 AND 100000
          AND length(worker) BETWEEN 1 AND 1024
          AND extract(year FROM lease) = 0 AND extract(month FROM lease) = 0
          AND extract(epoch FROM lease) BETWEEN 1 AND 86400)
     OR claim.queue IS NULL OR task_names IS NULL OR max_count IS NULL OR worker IS NULL
     OR lease IS NULL THEN
    PERFORM pgtq.check_claim_args('pgtq.claim', claim.queue, task_names, max_count, worker, lease);
  END IF;
  LOOP
    SELECT array_agg(p.id) INTO picked
      FROM (SELECT l.id FROM pgtq.live_tasks l
             WHERE l.queue = claim.queue AND l.state = 'queued' AND l.task = ANY (task_names)
               -- Evaluated once per call (it names no column of l): a paused queue hands out
               -- nothing, and neither does a limited one before its turn.
               AND (capped OR NOT EXISTS (SELECT 1 FROM pgtq.queues q
                                           WHERE q.queue = claim.queue
                                             AND (q.paused OR q.global_concurrency IS NOT NULL)))
             ORDER BY l.priority, l.run_at, l.id
             LIMIT take
               FOR UPDATE SKIP LOCKED) p;
    -- Something claimed, or nothing queued: done. Only a paused or limited queue goes on.
    EXIT WHEN picked IS NOT NULL OR capped OR max_count = 0;
    SELECT q.global_concurrency INTO room FROM pgtq.queues q
     WHERE q.queue = claim.queue AND NOT q.paused AND q.global_concurrency IS NOT NULL;
    EXIT WHEN room IS NULL;
    PERFORM pg_advisory_xact_lock(1885828210, hashtext(claim.queue));
    SELECT room - count(*) INTO room FROM pgtq.live_tasks l
     WHERE l.state = 'running' AND l.queue = claim.queue;
    take := least(max_count, greatest(room, 0));
    capped := true;
    EXIT WHEN take = 0;
  END LOOP;
  -- One strong random number per call that claims something; each row's token is it XOR
  -- the row's id. The tokens of one call all go to the one caller, who may work out the
  -- others of its own batch from one of them, and that is all: another call, or a later
  -- claim of the same task, draws a new number. An idle poll draws none; its UPDATE below
  -- changes no row.
  IF picked IS NOT NULL THEN
    token_base := pgtq.new_claim_token();
  END IF;
  RETURN QUERY
  WITH claimed AS (
    UPDATE pgtq.live_tasks l
       SET state = 'running',
           attempts = CASE WHEN l.attempts < 2147483647 THEN l.attempts + 1 ELSE l.attempts END,
           claims = CASE WHEN l.claims < 9223372036854775807 THEN l.claims + 1 ELSE l.claims END,
           claim = coalesce(nullif(token_base # l.id, 0), 1),
           started_at = clock_timestamp(), locked_by = worker,
           locked_until = clock_timestamp() + lease
     WHERE l.id = ANY (picked)
    RETURNING l.id, l.claim, l.task, l.args, l.attempts, l.max_attempts, l.timeout, l.priority,
              l.run_at
  )
  SELECT c.id, c.claim, c.task, c.args, c.attempts, c.max_attempts, c.timeout
    FROM claimed c ORDER BY c.priority, c.run_at, c.id;
END $$;
COMMENT ON FUNCTION pgtq.claim(text, text[], integer, text, interval) IS
'Claims up to max_count (0..100000) queued tasks of queue named in task_names, in (priority, run_at, id) order (none while the queue is paused; with a global concurrency limit, at most the limit less the running tasks of the queue, claims taking turns; call it in READ COMMITTED), for worker (1..1024 characters) with a lease of 1 second..1 day. Returns id, claim token (random, 64 bits), task, args, attempt, max_attempts, timeout (the push''s, NULL if none). pgtqd uses it; programs without pgtqd use pgtq.pop. Errors: 22004 NULL, 22023 bad value.';

CREATE OR REPLACE FUNCTION pgtq.finish_many(task_ids bigint[], task_claims bigint[], statuses text[],
                                 results jsonb[], errors text[], retry_in float8[])
RETURNS SETOF bigint
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_generic_plan SET enable_seqscan = off SET jit = off AS $$
DECLARE
  given    integer := cardinality(task_ids);
  accepted bigint[];
  requeued bigint[];
  wake     text[];
  dup      bigint;
  earliest_later timestamptz; -- the earliest run_at of the retries scheduled later
BEGIN
  -- Whole-array checks, each one pass in C; the precise error comes from the slow path.
  IF NOT coalesce(given <= 100000
                  AND cardinality(task_claims) = given AND cardinality(statuses) = given
                  AND cardinality(results) = given AND cardinality(errors) = given
                  AND cardinality(retry_in) = given
                  AND coalesce(array_ndims(task_ids), 1) = 1
                  AND coalesce(array_ndims(task_claims), 1) = 1
                  AND coalesce(array_ndims(statuses), 1) = 1
                  AND coalesce(array_ndims(results), 1) = 1
                  AND coalesce(array_ndims(errors), 1) = 1
                  AND coalesce(array_ndims(retry_in), 1) = 1
                  AND array_position(task_ids, NULL) IS NULL
                  AND array_position(task_claims, NULL) IS NULL
                  -- NULL elements are contained in nothing.
                  AND statuses <@ ARRAY['done', 'retry', 'fail', 'snooze'], false) THEN
    PERFORM pgtq.finish_many_arrays_error(task_ids, task_claims, statuses, results, errors,
                                          retry_in);
  END IF;

  -- o is materialized and counted below, so that every result is checked, including those of
  -- outcomes that match no running task.
  WITH o AS MATERIALIZED (
    SELECT x.id, x.claim, x.status,
           CASE WHEN x.result IS NOT NULL AND x.status = 'done'
                 AND (octet_length(x.result::text) > 1048576
                      OR (pg_column_size(x.result) >= 800 OR pg_column_compression(x.result) IS NOT NULL)
                         AND pgtq.too_deep(x.result))
                THEN pgtq.finish_many_arrays_error(task_ids, task_claims, statuses, results,
                                                   errors, retry_in)
                ELSE x.result END AS result,
           CASE WHEN octet_length(x.error) > 65536 THEN pgtq.clip_error(x.error)
                ELSE x.error END AS error
      FROM unnest(task_ids, task_claims, statuses, results, errors)
        AS x(id, claim, status, result, error)
  ), ending AS (
    DELETE FROM pgtq.live_tasks l USING o
     WHERE l.id = ANY (task_ids) AND l.id = o.id AND l.claim = o.claim AND l.state = 'running'
       AND (o.status IN ('done', 'fail') OR l.cancel_requested OR l.attempts >= l.max_attempts
            AND o.status = 'retry')
    RETURNING l.*, o.status AS outcome, o.result AS outcome_result, o.error AS outcome_error
  ), stored AS (
    INSERT INTO pgtq.finished_tasks (id, queue, task, args, state, priority, run_at, attempts,
                                     max_attempts, created_at, started_at, finished_at,
                                     locked_by, result, last_error, errors, timeout,
                                     unique_key)
    SELECT e.id, e.queue, e.task, e.args,
           CASE WHEN e.outcome = 'done' THEN 'succeeded'
                WHEN e.cancel_requested THEN 'cancelled'
                ELSE 'failed' END::pgtq.task_state,
           e.priority, e.run_at, e.attempts, e.max_attempts, e.created_at, e.started_at,
           clock_timestamp(), e.locked_by,
           CASE WHEN e.outcome = 'done' THEN coalesce(e.outcome_result, 'null'::jsonb) END,
           CASE WHEN e.outcome = 'done' THEN e.last_error ELSE e.outcome_error END,
           CASE WHEN e.outcome IN ('fail', 'retry')
                THEN CASE WHEN jsonb_typeof(e.errors) = 'array' AND jsonb_array_length(e.errors) < 100
                     THEN e.errors ELSE pgtq.recent_errors(e.errors) END || jsonb_build_array(jsonb_build_object(
                       'attempt', e.attempts, 'at', clock_timestamp(), 'error', e.outcome_error))
                ELSE e.errors END,
           e.timeout, e.unique_key
      FROM ending e
    RETURNING id
  )
  SELECT (SELECT array_agg(id) FROM stored), (SELECT count(*) FROM o) INTO accepted, given;

  -- Most batches hold only "done" outcomes: then there is nothing to schedule again.
  IF 'retry' = ANY (statuses) OR 'snooze' = ANY (statuses) THEN
    WITH o AS (
      SELECT x.id, x.claim, x.status,
             CASE WHEN octet_length(x.error) > 65536 THEN pgtq.clip_error(x.error)
                  ELSE x.error END AS error,
             CASE WHEN x.retry_in IS NULL OR x.retry_in = 'NaN' OR x.retry_in <= 0 THEN 0
                  WHEN x.retry_in > 3155760000 THEN 3155760000
                  ELSE x.retry_in END AS retry_in
        FROM unnest(task_ids, task_claims, statuses, errors, retry_in)
          AS x(id, claim, status, error, retry_in)
       WHERE x.status IN ('retry', 'snooze')
    ), again AS (
      UPDATE pgtq.live_tasks l
         SET state = CASE WHEN o.retry_in <= 0 THEN 'queued' ELSE 'scheduled' END::pgtq.task_state,
             run_at = clock_timestamp() + make_interval(secs => o.retry_in),
             attempts = CASE WHEN o.status = 'snooze' THEN greatest(l.attempts - 1, 0)
                             ELSE l.attempts END,
             locked_by = NULL, locked_until = NULL, claim = NULL,
             last_error = CASE WHEN o.status = 'retry' THEN o.error ELSE l.last_error END,
             errors = CASE WHEN o.status = 'retry'
                           THEN CASE WHEN jsonb_typeof(l.errors) = 'array' AND jsonb_array_length(l.errors) < 100
                     THEN l.errors ELSE pgtq.recent_errors(l.errors) END || jsonb_build_array(jsonb_build_object(
                                  'attempt', l.attempts, 'at', clock_timestamp(), 'error', o.error))
                           ELSE l.errors END
        FROM o
       WHERE l.id = ANY (task_ids) AND l.id = o.id AND l.claim = o.claim AND l.state = 'running'
      RETURNING l.id, l.queue, l.state, l.run_at
    )
    SELECT array_agg(id), array_agg(DISTINCT queue) FILTER (WHERE state = 'queued'),
           min(run_at) FILTER (WHERE state = 'scheduled')
      INTO requeued, wake, earliest_later FROM again;

    IF wake IS NOT NULL THEN
      PERFORM pgtq.wake_queue(q) FROM unnest(wake) AS q WHERE octet_length(q) < 7900;
    END IF;
    IF earliest_later IS NOT NULL THEN
      PERFORM pgtq.wake_schedulers(earliest_later);
    END IF;
  END IF;

  -- A task of a queue with a global concurrency limit that stops running leaves room, which
  -- the queue's waiting workers (whose claims came back short) learn from a wake-up.
  IF EXISTS (SELECT 1 FROM pgtq.queues q WHERE q.global_concurrency IS NOT NULL) THEN
    PERFORM pgtq.wake_queue(q.queue) FROM pgtq.queues q
     WHERE q.global_concurrency IS NOT NULL AND NOT q.paused
       AND EXISTS (SELECT 1 FROM pgtq.tasks t
                    WHERE t.id = ANY (coalesce(accepted, '{}') || coalesce(requeued, '{}'))
                      AND t.queue = q.queue);
  END IF;

  -- Every outcome accepted (the usual case): nothing to report, no need to read them again.
  IF coalesce(cardinality(accepted), 0) + coalesce(cardinality(requeued), 0) = given THEN
    RETURN;
  END IF;
  -- Each task changes at most once per call, so an id given twice always lands here.
  SELECT x.id INTO dup FROM unnest(task_ids) AS x(id) GROUP BY x.id HAVING count(*) > 1 LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'pgtq.finish_many: outcomes name task % more than once', dup
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  RETURN QUERY
  SELECT x.id FROM unnest(task_ids) AS x(id)
   WHERE x.id <> ALL (coalesce(accepted, '{}') || coalesce(requeued, '{}'));
END $$;

CREATE FUNCTION pgtq.set_global_concurrency(queue text, max_running integer) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  PERFORM pgtq.check_name('queue', set_global_concurrency.queue);
  IF max_running NOT BETWEEN 1 AND 100000 THEN
    RAISE EXCEPTION 'pgtq.set_global_concurrency: max_running must be 1..100000 (NULL: no limit; '
      'pgtq.pause stops a queue), got %', max_running USING ERRCODE = 'invalid_parameter_value';
  END IF;
  INSERT INTO pgtq.queues AS q (queue, global_concurrency)
  VALUES (set_global_concurrency.queue, max_running)
  ON CONFLICT ON CONSTRAINT queues_pkey
  DO UPDATE SET global_concurrency = max_running, changed_at = now();
  PERFORM pgtq.wake_queue(set_global_concurrency.queue);
END $$;
COMMENT ON FUNCTION pgtq.set_global_concurrency(text, integer) IS
'Limits queue to max_running (1..100000) tasks running at once across every worker (claimed ahead counts); NULL removes the limit. Running tasks are never stopped. Errors: 22004 NULL queue, 22023 bad name or max_running.';
