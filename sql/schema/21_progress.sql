-- Progress and checkpoints: what a running handler reports (plugin.h's task_set_progress and
-- task_set_checkpoint). progress says how far the task is, for people: shown in pgtq.tasks
-- while it runs and kept when it ends. checkpoint is for the task itself: the next attempt
-- gets it with its claim (pgtq.claim's checkpoint column), so that a long task resumes where
-- the last attempt stopped after a retry, a timeout or a crash; it is dropped when the task
-- ends. pgtqd writes what its handlers report at most once a second per queue (pgtq.report,
-- one statement for every running task with something new) and again with each outcome
-- (pgtq.finish_many's progress and checkpoints), so a handler may report as often as it
-- likes. Programs that work tasks without pgtqd call the one-task form of pgtq.report.
--
-- Limits: progress at most 64 KiB as JSON text, a checkpoint at most 1 MiB (as args), both
-- nested at most 100 deep.

-- True when value (NULL allowed) is within max_bytes as text and 100 levels deep.
CREATE FUNCTION pgtq.report_ok(value jsonb, max_bytes integer) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
  SELECT value IS NULL
         OR octet_length(value::text) <= max_bytes
            AND (pg_column_size(value) < 800 AND pg_column_compression(value) IS NULL
                 OR NOT pgtq.too_deep(value))
$$;

-- True when a follow-up list (finish_many's followups[i]) has the right shape: NULL, or a
-- JSON array of objects whose "queue", if given, is a string. push_many checks the rest.
CREATE FUNCTION pgtq.followups_ok(list jsonb) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
  SELECT list IS NULL
         OR jsonb_typeof(list) = 'array'
            AND NOT list @? 'strict $[*] ? (@.type() != "object"
                                            || exists(@.queue) && @.queue.type() != "string")'
$$;

-- True when finish_many's optional arrays are acceptable for a batch of given outcomes: each
-- NULL, or one-dimensional, as long as the batch, and every element within its limits.
CREATE FUNCTION pgtq.reports_ok(given integer, progress jsonb[], checkpoints jsonb[],
                                followups jsonb[])
RETURNS boolean
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT coalesce((progress IS NULL
                   OR coalesce(array_ndims(progress), 1) = 1 AND cardinality(progress) = given
                      AND NOT EXISTS (SELECT 1 FROM unnest(progress) AS p(v)
                                       WHERE NOT pgtq.report_ok(p.v, 65536)))
                  AND (checkpoints IS NULL
                       OR coalesce(array_ndims(checkpoints), 1) = 1
                          AND cardinality(checkpoints) = given
                          AND NOT EXISTS (SELECT 1 FROM unnest(checkpoints) AS c(v)
                                           WHERE NOT pgtq.report_ok(c.v, 1048576)))
                  AND (followups IS NULL
                       OR coalesce(array_ndims(followups), 1) = 1
                          AND cardinality(followups) = given
                          AND NOT EXISTS (SELECT 1 FROM unnest(followups) AS f(v)
                                           WHERE NOT pgtq.followups_ok(f.v))), false)
$$;

-- Raises the precise error for one progress and one checkpoint value over their limits; what
-- starts the message, suffix follows the argument's name ('[3]').
CREATE FUNCTION pgtq.check_report(what text, suffix text, progress jsonb, checkpoint jsonb)
RETURNS void
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF octet_length(progress::text) > 65536 THEN
    RAISE EXCEPTION '%progress% is % bytes as JSON text, the limit is 65536', what, suffix,
      octet_length(progress::text) USING ERRCODE = 'program_limit_exceeded';
  END IF;
  IF progress IS NOT NULL THEN
    PERFORM pgtq.check_json_limits(what || 'progress' || suffix, progress);
  END IF;
  IF checkpoint IS NOT NULL THEN
    PERFORM pgtq.check_json_limits(what || 'checkpoint' || suffix, checkpoint);
  END IF;
END $$;

-- Writes what handlers reported about their running tasks, as arrays of one length:
-- task_ids[i] and task_claims[i] (the attempt: nothing is written once its claim is no longer
-- current), progress[i] and checkpoints[i] (NULL: unchanged). A row locked by another session
-- (an outcome being recorded, an operator) is skipped, not waited for: what is reported next,
-- or with the outcome, comes after it. Returns how many tasks were written. pgtqd calls it
-- at most once a second per queue.
CREATE FUNCTION pgtq.report(task_ids bigint[], task_claims bigint[], progress jsonb[],
                            checkpoints jsonb[])
RETURNS integer
LANGUAGE plpgsql
SECURITY DEFINER SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_generic_plan SET enable_seqscan = off SET jit = off AS $$
DECLARE
  written integer;
BEGIN
  PERFORM pgtq.check_id_claims('pgtq.report', task_ids, task_claims);
  IF NOT pgtq.reports_ok(cardinality(task_ids), progress, checkpoints, NULL) THEN
    IF coalesce(array_ndims(progress), 1) <> 1 OR coalesce(array_ndims(checkpoints), 1) <> 1
       OR cardinality(progress) <> cardinality(task_ids)
       OR cardinality(checkpoints) <> cardinality(task_ids) THEN
      RAISE EXCEPTION 'pgtq.report: progress and checkpoints must be NULL or one-dimensional '
        'arrays as long as task_ids (%)', cardinality(task_ids)
        USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOR i IN 1 .. cardinality(task_ids) LOOP
      PERFORM pgtq.check_report('pgtq.report: ', '[' || i || ']', progress[i], checkpoints[i]);
    END LOOP;
  END IF;
  WITH given AS (
    SELECT DISTINCT ON (r.id) r.id, r.claim, r.new_progress, r.new_checkpoint
      FROM unnest(task_ids, task_claims, progress, checkpoints)
        AS r(id, claim, new_progress, new_checkpoint)
     WHERE r.id IS NOT NULL AND (r.new_progress IS NOT NULL OR r.new_checkpoint IS NOT NULL)
     ORDER BY r.id
  ), lockable AS (
    SELECT l.id FROM pgtq.live_tasks l JOIN given g ON l.id = g.id AND l.claim = g.claim
     WHERE l.id = ANY (task_ids) AND l.state = 'running'
       FOR NO KEY UPDATE OF l SKIP LOCKED
  )
  UPDATE pgtq.live_tasks l
     SET progress = coalesce(g.new_progress, l.progress),
         checkpoint = coalesce(g.new_checkpoint, l.checkpoint)
    FROM lockable k JOIN given g ON g.id = k.id
   WHERE l.id = ANY (task_ids) AND l.id = k.id;
  GET DIAGNOSTICS written = ROW_COUNT;
  RETURN written;
END $$;
COMMENT ON FUNCTION pgtq.report(bigint[], bigint[], jsonb[], jsonb[]) IS
'Writes handlers'' reports on running tasks held under (task_ids[i], task_claims[i]): progress[i] (any JSON, <= 64 KiB; shown in pgtq.tasks) and checkpoints[i] (any JSON, <= 1 MiB; handed to the next attempt by pgtq.claim), NULL: unchanged; arrays may be NULL. Rows locked elsewhere are skipped. Returns how many tasks were written. Errors: 22004 NULL array or id, 22023 lengths differ, 54000 too large or deep.';

-- The same for one task, for programs that work tasks without pgtqd (pgtq.pop). Returns false
-- when the claim is no longer current (or the row is locked by another session right now).
CREATE FUNCTION pgtq.report(id bigint, claim bigint, progress jsonb DEFAULT NULL,
                            checkpoint jsonb DEFAULT NULL)
RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  PERFORM pgtq.check_id_claim('pgtq.report', report.id, report.claim);
  PERFORM pgtq.check_report('pgtq.report: ', '', report.progress, report.checkpoint);
  RETURN pgtq.report(ARRAY[report.id], ARRAY[report.claim], ARRAY[report.progress],
                     ARRAY[report.checkpoint]) = 1;
END $$;
COMMENT ON FUNCTION pgtq.report(bigint, bigint, jsonb, jsonb) IS
'Writes progress (any JSON, <= 64 KiB; shown in pgtq.tasks) and checkpoint (any JSON, <= 1 MiB; handed to the next attempt by pgtq.claim) of a claimed task; NULL: unchanged. False: the claim is no longer current, or the row is locked right now. Errors: 22004 NULL id or claim, 54000 too large or deep.';
