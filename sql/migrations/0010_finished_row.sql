-- One way into the history for the functions that end tasks off the hot path (release,
-- cancel, tick): each builds the task's finished_tasks row with pgtq.finished_row instead of
-- writing its own 16-column INSERT. Each still chooses which rows end (its own DELETE ...
-- RETURNING) and how (state, result, last error); finished_row copies the rest of the row,
-- stamps finished_at and appends to the errors list. Behaviour does not change.
--
-- finished_row is a SQL function with a RETURN body, which PostgreSQL inlines into the
-- calling INSERT. finish_many, the hot path, keeps its INSERT written out (0009): plpgsql
-- plans its statements anew at each call while their parameters make custom plans cheaper,
-- and inlining reads the function's stored body back from the catalog at every planning;
-- in pgtqd's drain at concurrency 1 (synchronous_commit on) that made finish_many cost 746
-- instead of 287 microseconds a call.

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
                ELSE (ended).errors END)::pgtq.finished_tasks;

-- As in 0008, with the cancelled rows stored through finished_row.
CREATE OR REPLACE FUNCTION pgtq.release(task_ids bigint[], task_claims bigint[])
RETURNS integer
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  requeued  integer;
  cancelled integer;
  wake      text[];
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
    RETURNING 1
  ), back AS (
    UPDATE pgtq.live_tasks l
       SET state = 'queued', attempts = greatest(l.attempts - 1, 0), locked_by = NULL,
           locked_until = NULL, claim = NULL
      FROM held
     WHERE l.id = held.id AND NOT l.cancel_requested
    RETURNING l.queue
  )
  SELECT (SELECT count(*) FROM back), (SELECT count(*) FROM stored),
         (SELECT array_agg(DISTINCT queue) FROM back)
    INTO requeued, cancelled, wake;
  PERFORM pg_notify('pgtq_wakeup', q) FROM unnest(wake) AS q WHERE octet_length(q) < 7900;
  RETURN requeued + cancelled;
END $$;

-- As in 0008, with a waiting task's row stored through finished_row.
CREATE OR REPLACE FUNCTION pgtq.cancel(id bigint) RETURNS boolean
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
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
  RETURN true;
END $$;

-- As in 0008, with the rows of tasks whose last lease expired stored through finished_row.
CREATE OR REPLACE FUNCTION pgtq.tick(max_count integer DEFAULT 10000,
                                     OUT promoted integer, OUT rescued integer,
                                     OUT failed integer, OUT next_due timestamptz)
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  wake        text[];
  rescue_wake text[];
BEGIN
  IF max_count IS NULL THEN
    RAISE EXCEPTION 'pgtq.tick: max_count must not be NULL' USING ERRCODE = 'null_value_not_allowed';
  END IF;
  IF max_count NOT BETWEEN 1 AND 100000 THEN
    RAISE EXCEPTION 'pgtq.tick: max_count must be between 1 and 100000, got %', max_count
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
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
      RETURNING l AS task
    ), stored AS (
      INSERT INTO pgtq.finished_tasks
      SELECT (pgtq.finished_row(
                e.task,
                CASE WHEN (e.task).cancel_requested THEN 'cancelled'
                     ELSE 'failed' END::pgtq.task_state,
                NULL,
                'lease expired: worker ' || coalesce(left((e.task).locked_by, 1024), '?')
                  || ' stopped renewing it',
                true)).*
        FROM ending e
      RETURNING 1
    ), back AS (
      UPDATE pgtq.live_tasks l
         SET state = 'queued', run_at = clock_timestamp(), locked_until = NULL, claim = NULL,
             last_error = 'lease expired: worker ' || coalesce(left(l.locked_by, 1024), '?')
                          || ' stopped renewing it',
             errors = CASE WHEN jsonb_typeof(l.errors) = 'array' AND jsonb_array_length(l.errors) < 100
                     THEN l.errors ELSE pgtq.recent_errors(l.errors) END || jsonb_build_array(jsonb_build_object(
               'attempt', l.attempts, 'at', clock_timestamp(),
               'error', 'lease expired: worker ' || coalesce(left(l.locked_by, 1024), '?')
                        || ' stopped renewing it')),
             locked_by = NULL
        FROM expired
       WHERE l.id = expired.id AND l.attempts < l.max_attempts AND NOT l.cancel_requested
      RETURNING l.queue
    )
    SELECT (SELECT count(*) FROM back), (SELECT count(*) FROM stored),
           (SELECT array_agg(DISTINCT queue) FROM back)
      INTO rescued, failed, rescue_wake;

    -- A channel payload must be shorter than 8000 bytes; a valid queue name always is.
    PERFORM pg_notify('pgtq_wakeup', q)
       FROM (SELECT unnest(coalesce(wake, '{}') || coalesce(rescue_wake, '{}')) AS q) w
      WHERE octet_length(q) < 7900
      GROUP BY q;
  END IF;
  SELECT min(l.run_at) INTO next_due FROM pgtq.live_tasks l WHERE l.state = 'scheduled';
  -- A row written straight into the table may say 'infinity' or year 294276: the caller
  -- subtracts the time from now, so keep it within 100 years of now.
  IF next_due IS NOT NULL THEN
    next_due := least(greatest(next_due, clock_timestamp() - interval '100 years'),
                      clock_timestamp() + interval '100 years');
  END IF;
END $$;
