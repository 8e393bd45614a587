-- Recording outcomes: finish_many (pgtqd's batch, as typed arrays; a JSON form for SQL
-- callers), and complete, fail, snooze (one outcome at a time, for programs that work tasks
-- themselves).
--
-- done   -> succeeded, with result
-- fail   -> failed now (permanent error), error kept
-- retry  -> scheduled again after retry_in seconds, error kept; failed when no attempts are left
-- snooze -> scheduled again after retry_in seconds; gives its attempt back
-- A task whose cancellation was requested ends cancelled instead of being retried.
--
-- A task that ends moves from live_tasks to finished_tasks in the statement that records its
-- outcome: DELETE ... RETURNING feeding an INSERT whose row pgtq.finished_row builds
-- (release and cancel in 07_admin.sql, tick in 06_scheduler.sql). finish_many, the hot path,
-- writes that INSERT out: plpgsql plans it anew at each call (its parameters make custom
-- plans cheaper), and inlining finished_row would read the function's stored body back from
-- the catalog at every planning (746 instead of 287 microseconds a call in pgtqd's drain).

-- The finished_tasks row of a task that ended: ended is its live_tasks row as it was deleted
-- (DELETE ... RETURNING l); state, result (NULL unless it succeeded) and last_error are its
-- outcome; logged appends last_error to the errors list as this attempt's entry (the list
-- kept to its last 100 entries). Callers write
--   INSERT INTO pgtq.finished_tasks SELECT (pgtq.finished_row(...)).* FROM ...
-- which the planner inlines into one expression per column. It must stay inlinable: LANGUAGE
-- sql, a RETURN body, no SET clause. The RETURN body is bound to the objects it names when
-- it is created, so no caller's search_path can change it.
CREATE FUNCTION pgtq.finished_row(ended pgtq.live_tasks, state pgtq.task_state, result jsonb,
                                  last_error text, logged boolean)
RETURNS pgtq.finished_tasks
LANGUAGE sql VOLATILE PARALLEL SAFE
RETURN ROW((ended).id, (ended).queue, (ended).task, (ended).args, state, (ended).priority,
           (ended).run_at, (ended).attempts, (ended).max_attempts, (ended).created_at,
           (ended).started_at, clock_timestamp(), (ended).locked_by, result, last_error,
           CASE WHEN logged
                THEN CASE WHEN jsonb_typeof((ended).errors) = 'array'
                           AND jsonb_array_length((ended).errors) < 100
                          THEN (ended).errors ELSE pgtq.recent_errors((ended).errors) END
                     || jsonb_build_array(jsonb_build_object(
                          'attempt', (ended).attempts, 'at', clock_timestamp(),
                          'error', last_error))
                ELSE (ended).errors END,
           (ended).timeout, (ended).unique_key, (ended).fairness_key, (ended).tags,
           (ended).metadata, (ended).depends_on, (ended).on_parent_failure,
           (ended).progress)::pgtq.finished_tasks;

-- Raises the precise error for the first element of the outcome arrays that the checks of
-- finish_many refused (it returns NULL when it finds none).
CREATE FUNCTION pgtq.finish_many_arrays_error(task_ids bigint[], task_claims bigint[],
                                              statuses text[], results jsonb[],
                                              errors text[], retry_in float8[],
                                              progress jsonb[], checkpoints jsonb[],
                                              followups jsonb[])
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
  IF coalesce(array_ndims(progress), 1) <> 1 OR coalesce(array_ndims(checkpoints), 1) <> 1
     OR coalesce(array_ndims(followups), 1) <> 1
     OR cardinality(progress) <> given OR cardinality(checkpoints) <> given
     OR cardinality(followups) <> given THEN
    RAISE EXCEPTION 'pgtq.finish_many: progress, checkpoints and followups must be NULL or '
      'one-dimensional arrays as long as task_ids (%)', given
      USING ERRCODE = 'invalid_parameter_value';
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
    PERFORM pgtq.check_report('pgtq.finish_many: ', '[' || i || ']', progress[i], checkpoints[i]);
    IF NOT pgtq.followups_ok(followups[i]) THEN
      RAISE EXCEPTION 'pgtq.finish_many: followups[%] must be a JSON array of objects whose '
        '"queue", if given, is a string', i USING ERRCODE = 'invalid_parameter_value';
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
-- discarded because their claim is no longer current. pgtqd records its outcomes this way.
-- progress, checkpoints and followups (NULL, or arrays of the same length) carry what the
-- handler reported (21_progress.sql; NULL elements: nothing) and the follow-up tasks of a
-- done outcome (20_dependencies.sql: each element NULL or a JSON array of push_many elements
-- with an optional "queue"), pushed in this transaction only when that outcome is accepted.
-- Planned once per session, as pgtq.claim is (04_claim.sql): every statement reaches
-- live_tasks through id = ANY (task_ids).
CREATE FUNCTION pgtq.finish_many(task_ids bigint[], task_claims bigint[], statuses text[],
                                 results jsonb[], errors text[], retry_in float8[],
                                 progress jsonb[] DEFAULT NULL, checkpoints jsonb[] DEFAULT NULL,
                                 followups jsonb[] DEFAULT NULL)
RETURNS SETOF bigint
LANGUAGE plpgsql
SECURITY DEFINER SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_generic_plan SET enable_seqscan = off SET jit = off AS $$
DECLARE
  given    integer := cardinality(task_ids);
  accepted bigint[];
  requeued bigint[];
  wake     text[];
  dup      bigint;
  earliest_later timestamptz; -- the earliest run_at of the retries scheduled later
  ended_queues    text[];      -- the queues of the tasks that ended, and of those requeued
  requeued_queues text[];
  succeeded        bigint[];   -- the done outcomes accepted, and their queues (follow-ups)
  succeeded_queues text[];
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
                  AND statuses <@ ARRAY['done', 'retry', 'fail', 'snooze']
                  AND (progress IS NULL AND checkpoints IS NULL AND followups IS NULL
                       OR pgtq.reports_ok(given, progress, checkpoints, followups)), false) THEN
    PERFORM pgtq.finish_many_arrays_error(task_ids, task_claims, statuses, results, errors,
                                          retry_in, progress, checkpoints, followups);
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
                                                   errors, retry_in, progress, checkpoints,
                                                   followups)
                ELSE x.result END AS result,
           CASE WHEN octet_length(x.error) > 65536 THEN pgtq.clip_error(x.error)
                ELSE x.error END AS error,
           x.new_progress
      FROM unnest(task_ids, task_claims, statuses, results, errors, progress)
        AS x(id, claim, status, result, error, new_progress)
  ), ending AS (
    DELETE FROM pgtq.live_tasks l USING o
     WHERE l.id = ANY (task_ids) AND l.id = o.id AND l.claim = o.claim AND l.state = 'running'
       AND (o.status IN ('done', 'fail') OR l.cancel_requested OR l.attempts >= l.max_attempts
            AND o.status = 'retry')
    RETURNING l.*, o.status AS outcome, o.result AS outcome_result, o.error AS outcome_error,
              o.new_progress AS outcome_progress
  ), stored AS (
    INSERT INTO pgtq.finished_tasks (id, queue, task, args, state, priority, run_at, attempts,
                                     max_attempts, created_at, started_at, finished_at,
                                     locked_by, result, last_error, errors, timeout,
                                     unique_key, fairness_key, tags, metadata, depends_on,
                                     on_parent_failure, progress)
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
           e.timeout, e.unique_key, e.fairness_key, e.tags, e.metadata, e.depends_on,
           e.on_parent_failure, coalesce(e.outcome_progress, e.progress)
      FROM ending e
    RETURNING id, queue, state
  )
  SELECT (SELECT array_agg(id) FROM stored), (SELECT array_agg(queue) FROM stored),
         (SELECT count(*) FROM o),
         -- Only for follow-ups (CASE leaves the subqueries unrun otherwise).
         CASE WHEN followups IS NOT NULL
              THEN (SELECT array_agg(id) FILTER (WHERE state = 'succeeded') FROM stored) END,
         CASE WHEN followups IS NOT NULL
              THEN (SELECT array_agg(queue) FILTER (WHERE state = 'succeeded') FROM stored) END
    INTO accepted, ended_queues, given, succeeded, succeeded_queues;

  -- The follow-up tasks of the outcomes accepted as done, in this transaction: they exist if,
  -- and only if, the outcome that pushed them is recorded.
  IF followups IS NOT NULL AND succeeded IS NOT NULL THEN
    PERFORM pgtq.push_followups(task_ids, followups, succeeded, succeeded_queues);
  END IF;

  -- Sessions waiting for one of the tasks that ended learn it (19_task_waits.sql), and the
  -- pending tasks that depend on one are settled (20_dependencies.sql); usually nobody waits
  -- and nothing depends, and this is two probes of empty tables. While tasks pushed with
  -- depends_on are live, two index probes tell whether these tasks are among them or their
  -- parents.
  IF accepted IS NOT NULL
     AND (EXISTS (SELECT 1 FROM pgtq.task_waiters)
          OR EXISTS (SELECT 1 FROM pgtq.task_dependencies)
             AND (EXISTS (SELECT 1 FROM pgtq.task_dependencies d
                           WHERE d.parent_id = ANY (accepted) AND d.parent_state IS NULL)
                  OR EXISTS (SELECT 1 FROM pgtq.task_dependencies d
                              WHERE d.task_id = ANY (accepted)))
          OR current_setting('transaction_isolation') <> 'read committed') THEN
    PERFORM pgtq.tasks_ended(accepted);
  END IF;

  -- Most batches hold only "done" outcomes: then there is nothing to schedule again.
  IF 'retry' = ANY (statuses) OR 'snooze' = ANY (statuses) THEN
    WITH o AS (
      SELECT x.id, x.claim, x.status,
             CASE WHEN octet_length(x.error) > 65536 THEN pgtq.clip_error(x.error)
                  ELSE x.error END AS error,
             CASE WHEN x.retry_in IS NULL OR x.retry_in = 'NaN' OR x.retry_in <= 0 THEN 0
                  WHEN x.retry_in > 3155760000 THEN 3155760000
                  ELSE x.retry_in END AS retry_in,
             x.new_progress, x.new_checkpoint
        FROM unnest(task_ids, task_claims, statuses, errors, retry_in, progress, checkpoints)
          AS x(id, claim, status, error, retry_in, new_progress, new_checkpoint)
       WHERE x.status IN ('retry', 'snooze')
    ), again AS (
      UPDATE pgtq.live_tasks l
         SET state = CASE WHEN o.retry_in <= 0 THEN 'queued' ELSE 'scheduled' END::pgtq.task_state,
             run_at = clock_timestamp() + make_interval(secs => o.retry_in),
             attempts = CASE WHEN o.status = 'snooze' THEN greatest(l.attempts - 1, 0)
                             ELSE l.attempts END,
             locked_by = NULL, locked_until = NULL, claim = NULL,
             progress = coalesce(o.new_progress, l.progress),
             checkpoint = coalesce(o.new_checkpoint, l.checkpoint),
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
    SELECT array_agg(id), array_agg(queue), array_agg(DISTINCT queue) FILTER (WHERE state = 'queued'),
           min(run_at) FILTER (WHERE state = 'scheduled')
      INTO requeued, requeued_queues, wake, earliest_later FROM again;

    IF wake IS NOT NULL THEN
      PERFORM pgtq.wake_queue(q) FROM unnest(wake) AS q WHERE octet_length(q) < 7900;
    END IF;
    IF earliest_later IS NOT NULL THEN
      PERFORM pgtq.wake_schedulers(earliest_later);
    END IF;
  END IF;

  -- A task of a queue with a concurrency limit (global or per key) that stops running leaves
  -- room, which the queue's waiting workers (whose claims came back short) learn from a
  -- wake-up.
  IF EXISTS (SELECT 1 FROM pgtq.queues q
              WHERE q.global_concurrency IS NOT NULL OR q.key_concurrency IS NOT NULL) THEN
    PERFORM pgtq.wake_limited(coalesce(ended_queues, '{}') || coalesce(requeued_queues, '{}'));
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
COMMENT ON FUNCTION pgtq.finish_many(bigint[], bigint[], text[], jsonb[], text[], float8[], jsonb[], jsonb[], jsonb[]) IS
'Records outcomes given as arrays of one length (<= 100000; 54000 beyond): task_ids[i] and task_claims[i] (not NULL), statuses[i] done|retry|fail|snooze, results[i] (done only; <= 1 MiB as text, <= 100 deep, 54000 otherwise), errors[i] (cut to 64 KiB), retry_in[i] seconds (clamped to 0..3155760000; NULL, negative, NaN: 0); progress[i] (<= 64 KiB) and checkpoints[i] (<= 1 MiB; kept for the next attempt of a retry or snooze), NULL: unchanged; followups[i]: a JSON array of pgtq.push_many elements, each with an optional "queue" (default the task''s), pushed only if outcome i is accepted as done (a refused one fails the call with push_many''s SQLSTATE, e.g. 22023, 23503 or 54000, naming the task). The last three arrays may be NULL. The form pgtqd uses. An id twice or a bad status: 22023; a NULL array or id: 22004; nothing recorded on any error. Returns the ids whose claim was no longer current.';

-- Raises the precise error for the first bad element of a finish_many batch.
CREATE FUNCTION pgtq.finish_many_error(outcomes jsonb) RETURNS jsonb
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  e    record;
  what text;
  bad  text;
  v    jsonb;
BEGIN
  FOR e IN SELECT x.elem, x.ord FROM jsonb_array_elements(outcomes) WITH ORDINALITY AS x(elem, ord)
  LOOP
    what := 'pgtq.finish_many: outcome ' || e.ord || ': ';
    IF jsonb_typeof(e.elem) <> 'object' THEN
      RAISE EXCEPTION '%not a JSON object', what USING ERRCODE = 'invalid_parameter_value';
    END IF;
    SELECT k INTO bad FROM jsonb_object_keys(e.elem) AS k
     WHERE k NOT IN ('id', 'claim', 'status', 'result', 'error', 'retry_in') LIMIT 1;
    IF FOUND THEN
      RAISE EXCEPTION '%unknown key "%" (known: id, claim, status, result, error, retry_in)',
        what, bad USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOREACH bad IN ARRAY ARRAY['id', 'claim'] LOOP
      v := e.elem->bad;
      IF v IS NULL OR jsonb_typeof(v) = 'null' THEN
        RAISE EXCEPTION '% must not be null', what || bad USING ERRCODE = 'null_value_not_allowed';
      END IF;
      IF jsonb_typeof(v) <> 'number' OR v::numeric <> trunc(v::numeric)
         OR v::numeric NOT BETWEEN -9223372036854775808 AND 9223372036854775807 THEN
        RAISE EXCEPTION '% must be a JSON integer in the bigint range, got %', what || bad, v
          USING ERRCODE = 'invalid_parameter_value';
      END IF;
    END LOOP;
    IF NOT coalesce(e.elem->'status' IN ('"done"', '"retry"', '"fail"', '"snooze"'), false) THEN
      RAISE EXCEPTION '%status must be "done", "retry", "fail" or "snooze", got %', what,
        coalesce((e.elem->'status')::text, 'nothing') USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF coalesce(jsonb_typeof(e.elem->'error'), 'null') NOT IN ('null', 'string') THEN
      RAISE EXCEPTION '%error must be a JSON string, got %', what, e.elem->'error'
        USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF coalesce(jsonb_typeof(e.elem->'retry_in'), 'null') NOT IN ('null', 'number')
       AND NOT coalesce(e.elem->'retry_in' IN ('"NaN"', '"Infinity"', '"-Infinity"'), false) THEN
      RAISE EXCEPTION '%retry_in must be a JSON number of seconds, got %', what,
        e.elem->'retry_in' USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF e.elem ? 'result' AND e.elem->>'status' = 'done' THEN
      PERFORM pgtq.check_json_limits(what || 'result', e.elem->'result');
    END IF;
  END LOOP;
  RETURN NULL;
END $$;

-- The JSON form: outcomes is a JSON array of
--   {"id": n, "claim": n, "status": "done"|"retry"|"fail"|"snooze",
--    "result": json, "error": "text", "retry_in": seconds}
-- checked as a document (the messages name the outcome), then handed to the array form.
CREATE FUNCTION pgtq.finish_many(outcomes jsonb) RETURNS SETOF bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
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
COMMENT ON FUNCTION pgtq.finish_many(jsonb) IS
'Records outcomes: JSON array of {id, claim, status: done|retry|fail|snooze, result, error, retry_in (seconds)}, as the array form of finish_many does. result <= 1 MiB as text, <= 100 deep (54000); error cut to 64 KiB; retry_in clamped to 0..3155760000; errors list keeps the last 100 entries. An id twice, an unknown key or a wrong JSON type: 22023, nothing recorded. Returns the ids whose claim was no longer current.';

-- Exponential backoff with +-20 % jitter, in seconds: base * factor^(attempt-1), capped at
-- cap and at 100 years (3155760000 s) after the jitter too. Computed in logarithms where the
-- power would overflow.
CREATE FUNCTION pgtq.backoff(attempt integer, base float8 DEFAULT 1,
                             factor float8 DEFAULT 2, cap float8 DEFAULT 3600)
RETURNS float8
LANGUAGE plpgsql VOLATILE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  ceiling float8;
  plain   float8;
BEGIN
  IF attempt IS NULL OR base IS NULL OR factor IS NULL OR cap IS NULL THEN
    RAISE EXCEPTION 'pgtq.backoff: % must not be NULL',
      CASE WHEN attempt IS NULL THEN 'attempt' WHEN base IS NULL THEN 'base'
           WHEN factor IS NULL THEN 'factor' ELSE 'cap' END
      USING ERRCODE = 'null_value_not_allowed';
  END IF;
  IF attempt < 0 THEN
    RAISE EXCEPTION 'pgtq.backoff: attempt must be 0 or more, got %', attempt
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF base = 'NaN' OR base < 0 OR base = 'Infinity' THEN
    RAISE EXCEPTION 'pgtq.backoff: base must be a finite number of seconds >= 0, got %', base
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF factor = 'NaN' OR factor < 1 OR factor = 'Infinity' THEN
    RAISE EXCEPTION 'pgtq.backoff: factor must be a finite number >= 1, got %', factor
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF cap = 'NaN' OR cap < 0 THEN
    RAISE EXCEPTION 'pgtq.backoff: cap must be 0 seconds or more, got %', cap
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  ceiling := least(cap, 3155760000);
  IF base = 0 OR ceiling = 0 THEN
    plain := 0;
  ELSIF base >= ceiling THEN
    plain := ceiling;
  ELSIF greatest(attempt - 1, 0) * ln(factor) >= ln(ceiling / base) THEN
    plain := ceiling;
  ELSE
    plain := least(ceiling, base * power(factor, greatest(attempt - 1, 0)));
  END IF;
  RETURN least(plain * (0.8 + 0.4 * random()), 3155760000);
END $$;
COMMENT ON FUNCTION pgtq.backoff(integer, float8, float8, float8) IS
'Exponential backoff in seconds: base * factor^(attempt-1), capped at cap and at 3155760000 (100 years), +-20 % jitter. attempt >= 0, base finite >= 0, factor finite >= 1, cap >= 0; NaN refused. Errors: 22004 NULL, 22023 bad value.';

-- One outcome at a time, for programs that work tasks themselves. Each returns whether the
-- outcome was accepted (false: the claim is no longer current, nothing was changed).
CREATE FUNCTION pgtq.complete(id bigint, claim bigint, result jsonb DEFAULT 'null')
RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  PERFORM pgtq.check_id_claim('pgtq.complete', complete.id, complete.claim);
  PERFORM pgtq.check_json_limits('pgtq.complete: result', complete.result);
  RETURN NOT EXISTS (SELECT 1 FROM pgtq.finish_many(jsonb_build_array(jsonb_build_object(
    'id', complete.id, 'claim', complete.claim, 'status', 'done', 'result', complete.result))));
END $$;
COMMENT ON FUNCTION pgtq.complete(bigint, bigint, jsonb) IS
'Marks a claimed task succeeded with result (any JSON, <= 1 MiB as text, <= 100 deep; 54000 otherwise). False: the claim is no longer current, nothing changed. Errors: 22004 NULL id or claim.';

-- retry_in NULL: pgtq.backoff(attempt). permanent: fail now, whatever attempts are left.
-- error is cut to 64 KiB like every error.
CREATE FUNCTION pgtq.fail(id bigint, claim bigint, error text,
                          retry_in interval DEFAULT NULL,
                          permanent boolean DEFAULT false)
RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  PERFORM pgtq.check_id_claim('pgtq.fail', fail.id, fail.claim);
  IF fail.error IS NULL THEN
    RAISE EXCEPTION 'pgtq.fail: error must not be NULL' USING ERRCODE = 'null_value_not_allowed';
  END IF;
  IF permanent IS NULL THEN
    RAISE EXCEPTION 'pgtq.fail: permanent must not be NULL'
      USING ERRCODE = 'null_value_not_allowed';
  END IF;
  PERFORM pgtq.check_delay('pgtq.fail: retry_in', retry_in);
  RETURN NOT EXISTS (SELECT 1 FROM pgtq.finish_many(jsonb_build_array(jsonb_build_object(
    'id', fail.id, 'claim', fail.claim, 'status', CASE WHEN permanent THEN 'fail' ELSE 'retry' END,
    'error', pgtq.clip_error(fail.error),
    'retry_in', CASE WHEN retry_in IS NOT NULL
                     THEN extract(epoch FROM now() + retry_in - now())
                     ELSE pgtq.backoff(coalesce((SELECT least(greatest(l.attempts, 0), 1000)
                                                   FROM pgtq.live_tasks l
                                                  WHERE l.id = fail.id), 1)) END))));
END $$;
COMMENT ON FUNCTION pgtq.fail(bigint, bigint, text, interval, boolean) IS
'Records error (not NULL; cut to 64 KiB) for a claimed task: retried after retry_in (0..100 years; NULL: pgtq.backoff) while attempts are left, failed otherwise or when permanent. False: claim no longer current. Errors: 22004 NULL, 22023 retry_in out of range.';

-- Run again after delay (0 .. 100 years) without using up an attempt.
CREATE FUNCTION pgtq.snooze(id bigint, claim bigint, delay interval) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  PERFORM pgtq.check_id_claim('pgtq.snooze', snooze.id, snooze.claim);
  IF delay IS NULL THEN
    RAISE EXCEPTION 'pgtq.snooze: delay must not be NULL' USING ERRCODE = 'null_value_not_allowed';
  END IF;
  PERFORM pgtq.check_delay('pgtq.snooze: delay', delay);
  RETURN NOT EXISTS (SELECT 1 FROM pgtq.finish_many(jsonb_build_array(jsonb_build_object(
    'id', snooze.id, 'claim', snooze.claim, 'status', 'snooze',
    'retry_in', extract(epoch FROM now() + delay - now())))));
END $$;
COMMENT ON FUNCTION pgtq.snooze(bigint, bigint, interval) IS
'Runs a claimed task again after delay (0..100 years) without using up an attempt. False: claim no longer current. Errors: 22004 NULL, 22023 delay out of range.';
