-- Leaner hot paths: the claim draws one random number per call instead of one per row, and
-- outcomes travel as typed arrays, checked as whole arrays, instead of a JSON document
-- checked element by element. pgtqd records its outcomes through the array form; the JSON
-- form stays for SQL callers and hands its outcomes over to it.

-- ---------------------------------------------------------------------------------------
-- Claiming.

CREATE OR REPLACE FUNCTION pgtq.claim(queue text, task_names text[], max_count integer,
                                      worker text, lease interval DEFAULT interval '15 seconds')
RETURNS TABLE (id bigint, claim bigint, task text, args jsonb, attempt integer,
               max_attempts integer)
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  -- One strong random number per call; each row's token is it XOR the row's id. The tokens
  -- of one call all go to the one caller, who may work out the others of its own batch from
  -- one of them, and that is all: another call, or a later claim of the same task, draws a
  -- new number.
  token_base bigint := pgtq.new_claim_token();
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
  RETURN QUERY
  WITH picked AS (
    SELECT l.id FROM pgtq.live_tasks l
     WHERE l.queue = claim.queue AND l.state = 'queued' AND l.task = ANY (task_names)
     ORDER BY l.priority, l.run_at, l.id
     LIMIT max_count
       FOR UPDATE SKIP LOCKED
  ), claimed AS (
    UPDATE pgtq.live_tasks l
       SET state = 'running',
           attempts = CASE WHEN l.attempts < 2147483647 THEN l.attempts + 1 ELSE l.attempts END,
           claims = CASE WHEN l.claims < 9223372036854775807 THEN l.claims + 1 ELSE l.claims END,
           claim = coalesce(nullif(token_base # l.id, 0), 1),
           started_at = clock_timestamp(), locked_by = worker,
           locked_until = clock_timestamp() + lease
      FROM picked
     WHERE l.id = picked.id
    RETURNING l.id, l.claim, l.task, l.args, l.attempts, l.max_attempts, l.priority, l.run_at
  )
  SELECT c.id, c.claim, c.task, c.args, c.attempts, c.max_attempts
    FROM claimed c ORDER BY c.priority, c.run_at, c.id;
END $$;

-- ---------------------------------------------------------------------------------------
-- Recording outcomes.

-- Raises the precise error for the first element of the outcome arrays that the checks of
-- finish_many refused (it returns NULL when it finds none).
CREATE FUNCTION pgtq.finish_many_arrays_error(task_ids bigint[], task_claims bigint[],
                                              statuses text[], results jsonb[],
                                              errors text[], retry_in float8[])
RETURNS jsonb
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  given integer;
  i     integer;
BEGIN
  PERFORM pgtq.check_id_claims('pgtq.finish_many', task_ids, task_claims);
  IF statuses IS NULL THEN
    RAISE EXCEPTION 'pgtq.finish_many: statuses must not be NULL'
      USING ERRCODE = 'null_value_not_allowed';
  END IF;
  IF results IS NULL THEN
    RAISE EXCEPTION 'pgtq.finish_many: results must not be NULL'
      USING ERRCODE = 'null_value_not_allowed';
  END IF;
  IF errors IS NULL THEN
    RAISE EXCEPTION 'pgtq.finish_many: errors must not be NULL'
      USING ERRCODE = 'null_value_not_allowed';
  END IF;
  IF retry_in IS NULL THEN
    RAISE EXCEPTION 'pgtq.finish_many: retry_in must not be NULL'
      USING ERRCODE = 'null_value_not_allowed';
  END IF;
  given := cardinality(task_ids);
  IF coalesce(array_ndims(statuses), 1) <> 1 OR coalesce(array_ndims(results), 1) <> 1
     OR coalesce(array_ndims(errors), 1) <> 1 OR coalesce(array_ndims(retry_in), 1) <> 1 THEN
    RAISE EXCEPTION 'pgtq.finish_many: statuses, results, errors and retry_in must be '
      'one-dimensional arrays' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF cardinality(statuses) <> given OR cardinality(results) <> given
     OR cardinality(errors) <> given OR cardinality(retry_in) <> given THEN
    RAISE EXCEPTION 'pgtq.finish_many: task_ids, task_claims, statuses, results, errors and '
      'retry_in must have the same length, got %, %, %, %, % and %', given,
      cardinality(task_claims), cardinality(statuses), cardinality(results), cardinality(errors),
      cardinality(retry_in) USING ERRCODE = 'invalid_parameter_value';
  END IF;
  FOR i IN 1 .. given LOOP
    IF task_ids[i] IS NULL THEN
      RAISE EXCEPTION 'pgtq.finish_many: task_ids[%] must not be NULL', i
        USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF task_claims[i] IS NULL THEN
      RAISE EXCEPTION 'pgtq.finish_many: task_claims[%] must not be NULL', i
        USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF statuses[i] IS NULL THEN
      RAISE EXCEPTION 'pgtq.finish_many: statuses[%] must not be NULL', i
        USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF statuses[i] NOT IN ('done', 'retry', 'fail', 'snooze') THEN
      RAISE EXCEPTION 'pgtq.finish_many: statuses[%] must be done, retry, fail or snooze, got "%"',
        i, statuses[i] USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF statuses[i] = 'done' AND results[i] IS NOT NULL THEN
      PERFORM pgtq.check_json_limits('pgtq.finish_many: results[' || i || ']', results[i]);
    END IF;
  END LOOP;
  RETURN NULL;
END $$;

-- Records many outcomes in one call, as arrays of one length (at most 100000): outcome i is
--   task_ids[i], task_claims[i]  the attempt (its fencing token), neither NULL;
--   statuses[i]                  done | retry | fail | snooze;
--   results[i]                   a done task's result (NULL: JSON null); at most 1 MiB as
--                                text and 100 levels deep; ignored for the other statuses;
--   errors[i]                    retry's or fail's error (NULL allowed), cut to 64 KiB;
--   retry_in[i]                  seconds until a retry or snooze runs: clamped to
--                                0 .. 3155760000 (NULL, negative and NaN: 0, Infinity: the
--                                maximum); ignored for done and fail.
-- done -> succeeded; fail -> failed; retry -> scheduled (queued when retry_in is 0), or failed
-- when no attempt is left; snooze -> scheduled with the attempt given back; a cancellation
-- requested meanwhile turns retry and snooze into cancelled. Every element is checked before
-- anything changes; an id given twice is an error. Returns the ids whose outcome was
-- discarded because their claim is no longer current.
CREATE FUNCTION pgtq.finish_many(task_ids bigint[], task_claims bigint[], statuses text[],
                                 results jsonb[], errors text[], retry_in float8[])
RETURNS SETOF bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
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
       WHERE l.id = o.id AND l.claim = o.claim AND l.state = 'running'
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

-- The JSON form of 0008: the same checks and messages for the document, then the outcomes go
-- to the array form above.
CREATE OR REPLACE FUNCTION pgtq.finish_many(outcomes jsonb) RETURNS SETOF bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF outcomes IS NULL THEN
    RAISE EXCEPTION 'pgtq.finish_many: outcomes must not be NULL'
      USING ERRCODE = 'null_value_not_allowed';
  END IF;
  IF jsonb_typeof(outcomes) <> 'array' THEN
    RAISE EXCEPTION 'pgtq.finish_many: outcomes must be a JSON array, not %', jsonb_typeof(outcomes)
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  -- Two jsonpath passes over the batch (elements that are no object; then, in lax mode, the
  -- fields, where a comparison of mismatched types is "unknown", so each type is tested
  -- before its value); finish_many_error names the element when either finds one.
  IF outcomes @? 'strict $[*] ? (@.type() != "object")'
     OR outcomes @? 'lax $[*] ? (
           exists(@.keyvalue() ? (!(@.key == "id" || @.key == "claim" || @.key == "status"
                                    || @.key == "result" || @.key == "error" || @.key == "retry_in")))
        || !(@.id.type() == "number")
        || @.id.floor() != @.id || @.id > 9223372036854775807 || @.id < -9223372036854775808
        || !(@.claim.type() == "number")
        || @.claim.floor() != @.claim || @.claim > 9223372036854775807
        || @.claim < -9223372036854775808
        || !(@.status.type() == "string")
        || !(@.status == "done" || @.status == "retry" || @.status == "fail" || @.status == "snooze")
        || exists(@.error) && !(@.error.type() == "string" || @.error.type() == "null")
        || exists(@.retry_in) && !(@.retry_in.type() == "number" || @.retry_in.type() == "null"
                                   || @.retry_in.type() == "string"
                                      && (@.retry_in == "NaN" || @.retry_in == "Infinity"
                                          || @.retry_in == "-Infinity")))' THEN
    PERFORM pgtq.finish_many_error(outcomes);
  END IF;
  -- A result over the limits is named as the outcome it came in.
  PERFORM pgtq.check_json_limits('pgtq.finish_many: outcome ' || x.ord || ': result', x.elem->'result')
     FROM jsonb_array_elements(outcomes) WITH ORDINALITY AS x(elem, ord)
    WHERE x.elem->>'status' = 'done' AND x.elem ? 'result'
      AND (octet_length((x.elem->'result')::text) > 1048576
           OR pgtq.too_deep(x.elem->'result'));
  -- Numbers as numeric first: a retry_in beyond float8's range is clamped, not refused.
  RETURN QUERY
  SELECT pgtq.finish_many(
           coalesce(array_agg((x.elem->'id')::numeric::bigint ORDER BY x.ord), '{}'),
           coalesce(array_agg((x.elem->'claim')::numeric::bigint ORDER BY x.ord), '{}'),
           coalesce(array_agg(x.elem->>'status' ORDER BY x.ord), '{}'),
           coalesce(array_agg(x.elem->'result' ORDER BY x.ord), '{}'),
           coalesce(array_agg(x.elem->>'error' ORDER BY x.ord), '{}'),
           coalesce(array_agg(CASE WHEN jsonb_typeof(x.elem->'retry_in') = 'number'
                                   THEN least(greatest((x.elem->'retry_in')::numeric, -1),
                                              3155760000)::float8
                                   WHEN x.elem->>'retry_in' = 'Infinity' THEN 'Infinity'::float8
                                   WHEN x.elem->>'retry_in' = '-Infinity' THEN '-Infinity'::float8
                                   WHEN x.elem->>'retry_in' = 'NaN' THEN 'NaN'::float8
                              END ORDER BY x.ord), '{}'))
    FROM jsonb_array_elements(outcomes) WITH ORDINALITY AS x(elem, ord);
END $$;

COMMENT ON FUNCTION pgtq.claim(text, text[], integer, text, interval) IS
'Claims up to max_count (0..100000) queued tasks of queue named in task_names, in (priority, run_at, id) order, for worker (1..1024 characters) with a lease of 1 second..1 day. Returns id, claim token (random, 64 bits), task, args, attempt, max_attempts. pgtqd uses it; programs without pgtqd use pgtq.pop. Errors: 22004 NULL, 22023 bad value.';
COMMENT ON FUNCTION pgtq.finish_many(bigint[], bigint[], text[], jsonb[], text[], float8[]) IS
'Records outcomes given as arrays of one length (<= 100000; 54000 beyond): task_ids[i] and task_claims[i] (not NULL), statuses[i] done|retry|fail|snooze, results[i] (done only; <= 1 MiB as text, <= 100 deep, 54000 otherwise), errors[i] (cut to 64 KiB), retry_in[i] seconds (clamped to 0..3155760000; NULL, negative, NaN: 0). The form pgtqd uses. An id twice or a bad status: 22023; a NULL array or id: 22004; nothing recorded on any error. Returns the ids whose claim was no longer current.';
COMMENT ON FUNCTION pgtq.finish_many(jsonb) IS
'Records outcomes: JSON array of {id, claim, status: done|retry|fail|snooze, result, error, retry_in (seconds)}, as the array form of finish_many does. result <= 1 MiB as text, <= 100 deep (54000); error cut to 64 KiB; retry_in clamped to 0..3155760000; errors list keeps the last 100 entries. An id twice, an unknown key or a wrong JSON type: 22023, nothing recorded. Returns the ids whose claim was no longer current.';
