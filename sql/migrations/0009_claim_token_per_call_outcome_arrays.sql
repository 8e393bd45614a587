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
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
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

-- ---------------------------------------------------------------------------------------
-- Pushing many tasks as arrays: what a program sends (the C++ client does); the JSON form
-- of 0008 stays for SQL callers. The same rules as push, checked per element in one
-- expression, with no JSON types or unknown keys to check.

-- Raises the precise error for the first element of the arrays that push_many refused.
-- VOLATILE, as the other *_error functions: a CTE that calls it is not inlined, so the
-- insert's ORDER BY sorts, every element is checked before the first row is inserted, and a
-- refused call draws no id.
CREATE FUNCTION pgtq.push_many_arrays_error(queue text, tasks text[], args jsonb[],
                                            priorities integer[], max_attempts integer[],
                                            run_at timestamptz[], delays interval[])
RETURNS boolean
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  given integer;
  i     integer;
  what  text;
BEGIN
  PERFORM pgtq.check_name('queue', queue);
  IF tasks IS NULL THEN
    RAISE EXCEPTION 'pgtq.push_many: tasks must not be NULL' USING ERRCODE = 'null_value_not_allowed';
  END IF;
  IF args IS NULL THEN
    RAISE EXCEPTION 'pgtq.push_many: args must not be NULL' USING ERRCODE = 'null_value_not_allowed';
  END IF;
  given := cardinality(tasks);
  IF coalesce(array_ndims(tasks), 1) <> 1 OR coalesce(array_ndims(args), 1) <> 1
     OR coalesce(array_ndims(priorities), 1) <> 1 OR coalesce(array_ndims(max_attempts), 1) <> 1
     OR coalesce(array_ndims(run_at), 1) <> 1 OR coalesce(array_ndims(delays), 1) <> 1 THEN
    RAISE EXCEPTION 'pgtq.push_many: tasks, args, priorities, max_attempts, run_at and delays '
      'must be one-dimensional arrays' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF cardinality(args) <> given OR cardinality(priorities) <> given
     OR cardinality(max_attempts) <> given OR cardinality(run_at) <> given
     OR cardinality(delays) <> given THEN
    RAISE EXCEPTION 'pgtq.push_many: tasks has % elements; args, priorities, max_attempts, '
      'run_at and delays must have as many (or be NULL, except args), got %, %, %, % and %',
      given, cardinality(args), cardinality(priorities), cardinality(max_attempts),
      cardinality(run_at), cardinality(delays) USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF given > 100000 THEN
    RAISE EXCEPTION 'pgtq.push_many: tasks has % elements, the limit is 100000', given
      USING ERRCODE = 'program_limit_exceeded';
  END IF;
  FOR i IN 1 .. given LOOP
    what := 'pgtq.push_many: ';
    BEGIN
      PERFORM pgtq.check_name('task', tasks[i]);
    EXCEPTION WHEN null_value_not_allowed OR invalid_parameter_value THEN
      RAISE EXCEPTION '%tasks[%]: %', what, i, SQLERRM USING ERRCODE = SQLSTATE;
    END;
    IF args[i] IS NOT NULL AND jsonb_typeof(args[i]) NOT IN ('array', 'object') THEN
      RAISE EXCEPTION '%args[%] must be a JSON array or object, not %', what, i,
        jsonb_typeof(args[i]) USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM pgtq.check_json_limits(what || 'args[' || i || ']', args[i]);
    IF priorities[i] NOT BETWEEN -32768 AND 32767 THEN
      RAISE EXCEPTION '%priorities[%]: priority % of task "%" is outside -32768..32767', what, i,
        priorities[i], tasks[i] USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF max_attempts[i] NOT BETWEEN 1 AND 1000 THEN
      RAISE EXCEPTION '%max_attempts[%]: max_attempts % of task "%" is outside 1..1000', what, i,
        max_attempts[i], tasks[i] USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM pgtq.start_time(what || 'element ' || i || ': ', run_at[i], delays[i]);
  END LOOP;
  RETURN NULL;
END $$;

-- tasks[i] with args[i] (NULL: []), and optionally priorities[i] (NULL: 0), max_attempts[i]
-- (NULL: 5), run_at[i] and delays[i] (NULL: none), each optional array NULL or as long as
-- tasks (at most 100000). The same rules and limits as pgtq.push. Returns the new ids in
-- order. All or nothing: a bad element refuses the call.
CREATE FUNCTION pgtq.push_many(queue text, tasks text[], args jsonb[],
                               priorities integer[] DEFAULT NULL,
                               max_attempts integer[] DEFAULT NULL,
                               run_at timestamptz[] DEFAULT NULL,
                               delays interval[] DEFAULT NULL)
RETURNS SETOF bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  given     integer := cardinality(push_many.tasks);
  ids       bigint[];
  any_due   boolean;
  any_later boolean;
BEGIN
  IF NOT coalesce(push_many.queue ~ '^[A-Za-z0-9_.:-]+$' AND length(push_many.queue) <= 128
                  AND given <= 100000 AND cardinality(push_many.args) = given
                  AND coalesce(array_ndims(push_many.tasks), 1) = 1 AND coalesce(array_ndims(push_many.args), 1) = 1
                  AND (priorities IS NULL OR cardinality(priorities) = given
                       AND coalesce(array_ndims(priorities), 1) = 1)
                  AND (push_many.max_attempts IS NULL
                       OR cardinality(push_many.max_attempts) = given
                       AND coalesce(array_ndims(push_many.max_attempts), 1) = 1)
                  AND (push_many.run_at IS NULL OR cardinality(push_many.run_at) = given
                       AND coalesce(array_ndims(push_many.run_at), 1) = 1)
                  AND (delays IS NULL OR cardinality(delays) = given
                       AND coalesce(array_ndims(delays), 1) = 1), false) THEN
    PERFORM pgtq.push_many_arrays_error(push_many.queue, push_many.tasks, push_many.args, priorities,
                                        push_many.max_attempts, push_many.run_at, delays);
  END IF;

  WITH spec AS (
    SELECT s.ord, s.task, coalesce(s.args, '[]'::jsonb) AS args, s.priority, s.max_attempts,
           s.run_at, s.delay
      FROM unnest(push_many.tasks, push_many.args, coalesce(priorities, '{}'), coalesce(push_many.max_attempts, '{}'),
                  coalesce(push_many.run_at, '{}'), coalesce(delays, '{}'))
           WITH ORDINALITY AS s(task, args, priority, max_attempts, run_at, delay, ord)
  ), checked AS (
    -- The rules of push as one expression; CASE keeps the order.
    SELECT s.* FROM spec s
     WHERE CASE WHEN s.task ~ '^[A-Za-z0-9_.:-]+$' AND length(s.task) <= 128
                 AND jsonb_typeof(s.args) IN ('array', 'object')
                 AND octet_length(s.args::text) <= 1048576
                 AND (pg_column_size(s.args) < 800 AND pg_column_compression(s.args) IS NULL
                      OR NOT pgtq.too_deep(s.args))
                 AND coalesce(s.priority BETWEEN -32768 AND 32767, s.priority IS NULL)
                 AND coalesce(s.max_attempts BETWEEN 1 AND 1000, s.max_attempts IS NULL)
                 AND (s.run_at IS NULL OR (isfinite(s.run_at)
                        AND s.run_at BETWEEN now() - interval '100 years'
                                         AND now() + interval '100 years'))
                 AND (s.delay IS NULL OR pgtq.delay_ok(s.delay))
                 AND coalesce(s.run_at, now()) + coalesce(s.delay, interval '0')
                     <= now() + interval '100 years'
                THEN true
                ELSE pgtq.push_many_arrays_error(push_many.queue, push_many.tasks, push_many.args, priorities,
                                                 push_many.max_attempts, push_many.run_at,
                                                 delays) END
  ), inserted AS (
    INSERT INTO pgtq.live_tasks (queue, task, args, state, priority, run_at, max_attempts)
    SELECT push_many.queue, c.task, c.args,
           CASE WHEN coalesce(c.run_at, now()) + coalesce(c.delay, interval '0') <= now()
                THEN 'queued' ELSE 'scheduled' END::pgtq.task_state,
           coalesce(c.priority, 0),
           coalesce(c.run_at, now()) + coalesce(c.delay, interval '0'),
           coalesce(c.max_attempts, 5)
      FROM checked c ORDER BY c.ord
    RETURNING id, state
  )
  SELECT array_agg(i.id ORDER BY i.id), bool_or(i.state = 'queued'), bool_or(i.state = 'scheduled')
    INTO ids, any_due, any_later FROM inserted i;
  IF any_due THEN
    PERFORM pg_notify('pgtq_wakeup', push_many.queue);
  END IF;
  IF any_later THEN
    PERFORM pg_notify('pgtq_scheduled', '');
  END IF;
  RETURN QUERY SELECT unnest(ids);
END $$;

COMMENT ON FUNCTION pgtq.push_many(text, text[], jsonb[], integer[], integer[], timestamptz[], interval[]) IS
'Pushes tasks[i] with args[i] (NULL: []; a JSON array or object, <= 1 MiB as text, <= 100 deep) and optional priorities[i] (-32768..32767, NULL: 0), max_attempts[i] (1..1000, NULL: 5), run_at[i] and delays[i] (the start within 100 years of now; NULL: none); every given array as long as tasks, at most 100000. Returns the new ids in order; one NOTIFY per queue. All or nothing. Errors: 22004 NULL tasks, args or task name, 22023 bad value or lengths, 54000 over a limit.';
