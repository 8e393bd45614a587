-- The hot path planned once per session instead of at every call.
--
-- pgtq.claim, pgtq.heartbeat and the array form of pgtq.finish_many ran under PostgreSQL's
-- default plan choice: claim's statement was planned anew at every call (its LIMIT makes a
-- custom plan look cheaper), about a third of a one-task claim's cost. Each now runs with
-- plan_cache_mode = force_generic_plan. So that a plan made without knowing the arguments,
-- or while the table was empty, can never scan live_tasks whole, each statement reaches it
-- through an index condition (the claim index, or the primary key with id = ANY), and seq
-- scans and JIT are off inside these functions. Before this, finish_many's generic plan
-- made on an empty live_tasks joined it by a seq scan. The claim also no longer draws a
-- token when nothing is queued.
--
-- Behaviour does not change: the same rows are claimed, renewed and recorded.

CREATE OR REPLACE FUNCTION pgtq.claim(queue text, task_names text[], max_count integer,
                           worker text, lease interval DEFAULT interval '15 seconds')
RETURNS TABLE (id bigint, claim bigint, task text, args jsonb, attempt integer,
               max_attempts integer)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_generic_plan SET enable_seqscan = off SET jit = off AS $$
DECLARE
  picked     bigint[];
  token_base bigint;
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
  SELECT array_agg(p.id) INTO picked
    FROM (SELECT l.id FROM pgtq.live_tasks l
           WHERE l.queue = claim.queue AND l.state = 'queued' AND l.task = ANY (task_names)
           ORDER BY l.priority, l.run_at, l.id
           LIMIT max_count
             FOR UPDATE SKIP LOCKED) p;
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
    RETURNING l.id, l.claim, l.task, l.args, l.attempts, l.max_attempts, l.priority, l.run_at
  )
  SELECT c.id, c.claim, c.task, c.args, c.attempts, c.max_attempts
    FROM claimed c ORDER BY c.priority, c.run_at, c.id;
END $$;

CREATE OR REPLACE FUNCTION pgtq.heartbeat(task_ids bigint[], task_claims bigint[],
                               lease interval DEFAULT interval '15 seconds')
RETURNS TABLE (id bigint, status text)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_generic_plan SET enable_seqscan = off SET jit = off AS $$
BEGIN
  PERFORM pgtq.check_id_claims('pgtq.heartbeat', task_ids, task_claims);
  PERFORM pgtq.check_lease('pgtq.heartbeat', lease);
  RETURN QUERY
  WITH asked AS (
    SELECT DISTINCT a.id, a.claim
      FROM unnest(task_ids, task_claims) AS a(id, claim)
     WHERE a.id IS NOT NULL
  ), lockable AS (
    SELECT l.id FROM pgtq.live_tasks l JOIN asked a ON l.id = a.id AND l.claim = a.claim
     WHERE l.id = ANY (task_ids) AND l.state = 'running'
       FOR UPDATE OF l SKIP LOCKED
  ), renewed AS (
    UPDATE pgtq.live_tasks l SET locked_until = clock_timestamp() + lease
      FROM lockable k
     WHERE l.id = ANY (task_ids) AND l.id = k.id
    RETURNING l.id, l.claim, l.cancel_requested
  )
  SELECT a.id,
         CASE WHEN r.id IS NOT NULL THEN CASE WHEN r.cancel_requested THEN 'cancel'
                                              ELSE 'renewed' END
              WHEN EXISTS (SELECT 1 FROM pgtq.live_tasks l
                            WHERE l.id = a.id AND l.claim = a.claim AND l.state = 'running')
                THEN 'busy'
              ELSE 'lost' END
    FROM asked a LEFT JOIN renewed r ON r.id = a.id AND r.claim = a.claim;
END $$;

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
  delayed  boolean;
  dup      bigint;
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
                THEN CASE WHEN jsonb_typeof(e.errors) = 'array' AND jsonb_array_length(e.errors) < 100
                     THEN e.errors ELSE pgtq.recent_errors(e.errors) END || jsonb_build_array(jsonb_build_object(
                       'attempt', e.attempts, 'at', clock_timestamp(), 'error', e.outcome_error))
                ELSE e.errors END
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
      RETURNING l.id, l.queue, l.state
    )
    SELECT array_agg(id), array_agg(DISTINCT queue) FILTER (WHERE state = 'queued'),
           bool_or(state = 'scheduled')
      INTO requeued, wake, delayed FROM again;

    IF wake IS NOT NULL THEN
      PERFORM pg_notify('pgtq_wakeup', q) FROM unnest(wake) AS q WHERE octet_length(q) < 7900;
    END IF;
    IF delayed THEN
      PERFORM pg_notify('pgtq_scheduled', '');
    END IF;
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
