-- Waiting for a task to end (sql/schema/19_task_waits.sql): pgtq.task_waiters holds the
-- sessions that wait for a task (pgtq.watch_task, unwatch_task); whatever ends or deletes a
-- task (finish_many, tick, release, cancel, cancel_all, delete, delete_all) notifies
-- pgtq_ended for the ones somebody waits for (pgtq.notify_ended); pgtq.task_status reads a
-- task without missing an end in progress; pgtq.wait waits from plain SQL. tick also removes
-- the registrations of ended sessions.
--
-- fire_schedules: catch-up latest finds the newest missed fire time by halving the span it
-- can be in, instead of walking every fire time of the window (1,203 fire times computed for
-- a cron firing every second of 20 minutes an hour, 24 now).
--
-- claim, heartbeat, fair_pick, tick's sweeps and sweep_gone_workers lock live rows FOR NO
-- KEY UPDATE SKIP LOCKED (the lock their UPDATEs take anyway): task_status's FOR KEY SHARE
-- read does not make them skip the task.

CREATE TABLE pgtq.task_waiters (
  task_id bigint NOT NULL,
  pid     integer NOT NULL,
  since   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (task_id, pid)
);
COMMENT ON TABLE pgtq.task_waiters IS
  'Sessions waiting for a task to end (pgtq.watch_task); whatever ends or deletes the task notifies pgtq_ended (payload: its id) while one is here.';

-- Registers this session (its backend pid) as waiting for task id to end. The caller must
-- LISTEN on pgtq_ended and commit the registration before it reads the task with
-- task_status. Returns true when the session was not registered for it before. A
-- registration outlives the wait only until unwatch_task or the end of the session.
CREATE FUNCTION pgtq.watch_task(id bigint) RETURNS boolean
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  inserted boolean;
BEGIN
  IF watch_task.id IS NULL THEN
    RAISE EXCEPTION 'pgtq.watch_task: id must not be NULL' USING ERRCODE = 'null_value_not_allowed';
  END IF;
  INSERT INTO pgtq.task_waiters AS w (task_id, pid) VALUES (watch_task.id, pg_backend_pid())
  ON CONFLICT ON CONSTRAINT task_waiters_pkey DO NOTHING
  RETURNING true INTO inserted;
  RETURN coalesce(inserted, false);
END $$;
COMMENT ON FUNCTION pgtq.watch_task(bigint) IS
'Registers this session as waiting for task id to end: whatever ends or deletes it then notifies pgtq_ended with the id as payload (an empty payload: look again). LISTEN pgtq_ended and commit this before reading the task with pgtq.task_status. Returns true when the session was not registered for it before. Errors: 22004 NULL id.';

-- Removes this session's registration for task id, or all of them (id NULL). Returns how
-- many it removed.
CREATE FUNCTION pgtq.unwatch_task(id bigint DEFAULT NULL) RETURNS integer
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  removed integer;
BEGIN
  DELETE FROM pgtq.task_waiters w
   WHERE w.pid = pg_backend_pid() AND (unwatch_task.id IS NULL OR w.task_id = unwatch_task.id);
  GET DIAGNOSTICS removed = ROW_COUNT;
  RETURN removed;
END $$;
COMMENT ON FUNCTION pgtq.unwatch_task(bigint) IS
'Removes this session''s registration for task id (NULL: all of them), made by pgtq.watch_task. Returns how many were removed.';

-- Task id as it is now: one row, or none when no task has the id (never pushed, deleted, or
-- removed by retention). A live task's row is read FOR KEY SHARE, which waits for a
-- transaction that is ending or deleting it (see the top of this file): call it outside a
-- transaction block (the lock lasts until the transaction ends), in READ COMMITTED, on the
-- primary, after watch_task has committed. To read a task inside a transaction, read
-- pgtq.tasks.
CREATE FUNCTION pgtq.task_status(id bigint)
RETURNS TABLE (state pgtq.task_state, result jsonb, last_error text, attempts integer,
               finished_at timestamptz)
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF task_status.id IS NULL THEN
    RAISE EXCEPTION 'pgtq.task_status: id must not be NULL'
      USING ERRCODE = 'null_value_not_allowed';
  END IF;
  IF current_setting('transaction_isolation') <> 'read committed' THEN
    RAISE EXCEPTION 'pgtq.task_status: needs READ COMMITTED, this transaction is %',
      upper(current_setting('transaction_isolation')) USING ERRCODE = 'invalid_transaction_state';
  END IF;
  RETURN QUERY
  SELECT l.state, NULL::jsonb, l.last_error, l.attempts, NULL::timestamptz
    FROM pgtq.live_tasks l WHERE l.id = task_status.id FOR KEY SHARE;
  IF FOUND THEN
    RETURN;
  END IF;
  -- A statement of its own: its snapshot sees the end that the lock above waited for. Both
  -- tables in that one snapshot: a retry may have moved the task back meanwhile.
  RETURN QUERY
  SELECT t.state, t.result, t.last_error, t.attempts, t.finished_at
    FROM pgtq.tasks t WHERE t.id = task_status.id;
END $$;
COMMENT ON FUNCTION pgtq.task_status(bigint) IS
'Task id as it is now: state, result (succeeded tasks), last_error, attempts, finished_at (NULL while live); no row when no task has the id. Locks a live task''s row FOR KEY SHARE, waiting for a transaction that is ending or deleting the task: call it outside a transaction block, on the primary; inside one, read pgtq.tasks. Errors: 22004 NULL id, 25000 not READ COMMITTED.';

-- Notifies pgtq_ended for each of ids that a session waits for (pgtq.task_waiters): what
-- everything that ends or deletes tasks calls, in a statement after the one that did it.
-- Outside READ COMMITTED the transaction's snapshot may predate a registration, so it sends
-- one notification with an empty payload instead, which every waiter takes as "look again".
CREATE FUNCTION pgtq.notify_ended(ids bigint[]) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF coalesce(cardinality(notify_ended.ids), 0) = 0 THEN
    RETURN;
  END IF;
  IF current_setting('transaction_isolation') <> 'read committed' THEN
    PERFORM pg_notify('pgtq_ended', '');
  ELSE
    PERFORM pg_notify('pgtq_ended', w.task_id::text)
       FROM (SELECT DISTINCT t.task_id FROM pgtq.task_waiters t
              WHERE t.task_id = ANY (notify_ended.ids)) w;
  END IF;
END $$;
COMMENT ON FUNCTION pgtq.notify_ended(bigint[]) IS
'Notifies pgtq_ended (at commit) for each of ids that a session waits for (pgtq.watch_task); outside READ COMMITTED once, with an empty payload. Call it after ending or deleting tasks by hand.';

-- Waits up to timeout for task id to end and returns it as task_status does: ended
-- (succeeded, failed, cancelled), or still live when the timeout came first; no row when no
-- task has the id. Looks every 10 ms (without locking), since a function cannot receive notifications; a
-- client waits without polling (see the top of this file). Like any statement, it holds its
-- snapshot while it waits, which keeps vacuum from removing rows deleted meanwhile: hence the
-- limit of one hour.
CREATE FUNCTION pgtq.wait(id bigint, timeout interval DEFAULT interval '30 seconds')
RETURNS TABLE (state pgtq.task_state, result jsonb, last_error text, attempts integer,
               finished_at timestamptz)
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  deadline timestamptz;
  seen     record;
BEGIN
  IF wait.id IS NULL OR wait.timeout IS NULL THEN
    RAISE EXCEPTION 'pgtq.wait: % must not be NULL', CASE WHEN wait.id IS NULL THEN 'id' ELSE 'timeout' END
      USING ERRCODE = 'null_value_not_allowed';
  END IF;
  IF NOT (wait.timeout >= interval '0' AND wait.timeout <= interval '1 hour') THEN
    RAISE EXCEPTION 'pgtq.wait: timeout must be between 0 and 1 hour, got %', wait.timeout
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  -- Each look needs a new snapshot, which only READ COMMITTED takes.
  IF current_setting('transaction_isolation') <> 'read committed' THEN
    RAISE EXCEPTION 'pgtq.wait: needs READ COMMITTED, this transaction is %',
      upper(current_setting('transaction_isolation')) USING ERRCODE = 'invalid_transaction_state';
  END IF;
  deadline := clock_timestamp() + wait.timeout;
  LOOP
    -- No lock, unlike task_status: this transaction's lock would hold back the very end it
    -- waits for until the timeout.
    SELECT t.state, t.result, t.last_error, t.attempts, t.finished_at INTO seen
      FROM pgtq.tasks t WHERE t.id = wait.id;
    IF NOT FOUND THEN
      RETURN;
    END IF;
    EXIT WHEN seen.state IN ('succeeded', 'failed', 'cancelled')
              OR clock_timestamp() >= deadline;
    PERFORM pg_sleep(least(0.01, extract(epoch FROM deadline - clock_timestamp())));
  END LOOP;
  RETURN QUERY SELECT seen.state, seen.result, seen.last_error, seen.attempts,
                      seen.finished_at;
END $$;
COMMENT ON FUNCTION pgtq.wait(bigint, interval) IS
'Waits up to timeout (0..1 hour, default 30 seconds) for task id to end; returns it as pgtq.task_status does: ended (succeeded, failed, cancelled) or still live if the timeout came first; no row when no task has the id. Looks every 10 ms; a client that LISTENs waits without polling (pgtq.watch_task). Errors: 22004 NULL, 22023 timeout out of range, 25000 not READ COMMITTED.';

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
  ended_queues    text[];      -- the queues of the tasks that ended, and of those requeued
  requeued_queues text[];
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
                                     unique_key, fairness_key)
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
           e.timeout, e.unique_key, e.fairness_key
      FROM ending e
    RETURNING id, queue
  )
  SELECT (SELECT array_agg(id) FROM stored), (SELECT array_agg(queue) FROM stored),
         (SELECT count(*) FROM o)
    INTO accepted, ended_queues, given;

  -- Sessions waiting for one of the tasks that ended learn it (19_task_waits.sql); usually
  -- nobody waits, and this is one probe of an empty table.
  IF accepted IS NOT NULL
     AND (EXISTS (SELECT 1 FROM pgtq.task_waiters)
          OR current_setting('transaction_isolation') <> 'read committed') THEN
    PERFORM pgtq.notify_ended(accepted);
  END IF;

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
COMMENT ON FUNCTION pgtq.finish_many(bigint[], bigint[], text[], jsonb[], text[], float8[]) IS
'Records outcomes given as arrays of one length (<= 100000; 54000 beyond): task_ids[i] and task_claims[i] (not NULL), statuses[i] done|retry|fail|snooze, results[i] (done only; <= 1 MiB as text, <= 100 deep, 54000 otherwise), errors[i] (cut to 64 KiB), retry_in[i] seconds (clamped to 0..3155760000; NULL, negative, NaN: 0). The form pgtqd uses. An id twice or a bad status: 22023; a NULL array or id: 22004; nothing recorded on any error. Returns the ids whose claim was no longer current.';

CREATE OR REPLACE FUNCTION pgtq.tick(max_count integer DEFAULT 10000,
                          OUT promoted integer, OUT rescued integer,
                          OUT failed integer, OUT next_due timestamptz)
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  wake        text[];
  rescue_wake text[];
  ended       text[]; -- the queues of the expired tasks that ended
  ended_ids   bigint[];
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
    PERFORM pgtq.fire_schedules(max_count);
    WITH due AS (
      SELECT l.id FROM pgtq.live_tasks l
       WHERE l.state = 'scheduled' AND l.run_at <= clock_timestamp()
       ORDER BY l.run_at LIMIT max_count FOR NO KEY UPDATE SKIP LOCKED
    ), moved AS (
      UPDATE pgtq.live_tasks l SET state = 'queued' FROM due WHERE l.id = due.id
      RETURNING l.queue
    )
    SELECT count(*), array_agg(DISTINCT queue) INTO promoted, wake FROM moved;

    WITH expired AS (
      SELECT l.id FROM pgtq.live_tasks l
       WHERE l.state = 'running' AND l.locked_until < clock_timestamp()
       ORDER BY l.locked_until LIMIT max_count FOR NO KEY UPDATE SKIP LOCKED
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
      RETURNING id, queue
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
           (SELECT array_agg(DISTINCT queue) FROM back), (SELECT array_agg(queue) FROM stored),
           (SELECT array_agg(id) FROM stored)
      INTO rescued, failed, rescue_wake, ended, ended_ids;
    IF ended IS NOT NULL THEN
      PERFORM pgtq.wake_limited(ended); -- a failed task of a limited queue leaves room
      PERFORM pgtq.notify_ended(ended_ids);
    END IF;

    -- A channel payload must be shorter than 8000 bytes; a valid queue name always is.
    PERFORM pgtq.wake_queue(q)
       FROM (SELECT unnest(coalesce(wake, '{}') || coalesce(rescue_wake, '{}')) AS q) w
      WHERE octet_length(q) < 7900
      GROUP BY q;
    -- A rate-limited queue whose claims came back short gets room as its window moves on,
    -- which nobody else announces (11_queues.sql).
    PERFORM pgtq.wake_queue(q.queue) FROM pgtq.queues q
     WHERE q.rate_limit IS NOT NULL AND NOT q.paused
       AND (SELECT coalesce(sum(s.n), 0) FROM unnest(q.rate_starts, q.rate_counts) AS s(at, n)
             WHERE s.at > clock_timestamp() - q.rate_period) < q.rate_limit
       -- Two probes, one per claim index (01_tables.sql): tasks without and with a key.
       AND (EXISTS (SELECT 1 FROM pgtq.live_tasks l
                     WHERE l.queue = q.queue AND l.state = 'queued' AND l.fairness_key IS NULL)
            OR EXISTS (SELECT 1 FROM pgtq.live_tasks l
                        WHERE l.queue = q.queue AND l.state = 'queued'
                          AND l.fairness_key IS NOT NULL));

    -- The same for a queue with a rate limit per key (16_fairness.sql) once a key it held back
    -- has room: its last fair claim said when (key_rate_wake_at), and the woken claim says
    -- anew. Reads only pgtq.queues and writes nothing: pgtq.pop runs this in the caller's
    -- transaction, which may stay open while the caller works.
    PERFORM pgtq.wake_queue(q.queue) FROM pgtq.queues q
     WHERE q.key_rate_wake_at <= clock_timestamp() AND q.key_rate_limit IS NOT NULL
       AND NOT q.paused
       AND EXISTS (SELECT 1 FROM pgtq.live_tasks l
                    WHERE l.queue = q.queue AND l.state = 'queued'
                      AND l.fairness_key IS NOT NULL);

    -- A stale row only makes pushes notify in vain; a row is never removed while its session
    -- lives (pid is visible to every role, unlike the other columns of pg_stat_activity).
    -- pg_stat_activity is read once per transaction and kept: a caller that read it earlier
    -- in its transaction would judge newer registrations by that old list, so read it anew.
    PERFORM pg_stat_clear_snapshot();
    -- Rows locked by someone else (an operator's open transaction) are skipped, not waited
    -- for: a tick that waited would stop every scheduler's promotions and rescues.
    DELETE FROM pgtq.idle_workers w
     WHERE (w.queue, w.pid) IN (SELECT g.queue, g.pid FROM pgtq.idle_workers g
                                 WHERE NOT EXISTS (SELECT 1 FROM pg_stat_activity a
                                                    WHERE a.pid = g.pid)
                                   FOR UPDATE SKIP LOCKED);
    DELETE FROM pgtq.waiting_schedulers s
     WHERE s.pid IN (SELECT g.pid FROM pgtq.waiting_schedulers g
                      WHERE NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.pid = g.pid)
                        FOR UPDATE SKIP LOCKED);
    DELETE FROM pgtq.task_waiters t
     WHERE (t.task_id, t.pid) IN (SELECT g.task_id, g.pid FROM pgtq.task_waiters g
                                   WHERE NOT EXISTS (SELECT 1 FROM pg_stat_activity a
                                                      WHERE a.pid = g.pid)
                                     FOR UPDATE SKIP LOCKED);
    DELETE FROM pgtq.workers w
     WHERE (w.worker, w.queue) IN (SELECT g.worker, g.queue FROM pgtq.workers g
                                    WHERE g.last_seen < clock_timestamp() - interval '1 day'
                                      FOR UPDATE SKIP LOCKED);
  END IF;
  -- A row written straight into the table may say 'infinity' or year 294276: the caller
  -- subtracts the time from now, so next_due keeps it within 100 years of now.
  -- A rate limit's room counts as due too: the scheduler wakes its queue then (above).
  next_due := least(pgtq.next_due(), pgtq.next_rate_room());
END $$;
COMMENT ON FUNCTION pgtq.tick(integer) IS
'The scheduler''s work, at most max_count (1..100000) rows per sweep: due schedules fire (pgtq.fire_schedules), due scheduled tasks become queued, expired leases are rescued or failed, rate-limited queues with room (for the queue, or for a key its rate limit held back) are woken, registrations of ended sessions in idle_workers, waiting_schedulers and task_waiters, and workers not heard from for a day, are removed. One session at a time (advisory lock); others return zeros. next_due: the earliest scheduled run_at or schedule fire time (kept within 100 years of now), or the time a rate limit next has room for a claim it holds back, if earlier. Errors: 22004 NULL, 22023 out of range.';

CREATE OR REPLACE FUNCTION pgtq.release(task_ids bigint[], task_claims bigint[])
RETURNS integer
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
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
    PERFORM pgtq.notify_ended(ended_ids);
  END IF;
  RETURN requeued + cancelled;
END $$;
COMMENT ON FUNCTION pgtq.release(bigint[], bigint[]) IS
'Gives claimed tasks back unfinished: queued again, attempt given back (a task whose cancellation was requested ends cancelled). Arrays of equal length; NULL elements match nothing; a task named twice counts once. Returns how many were still held. Errors: 22004 NULL array, 22023 lengths differ.';

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
  PERFORM pgtq.notify_ended(ARRAY[cancel.id]);
  RETURN true;
END $$;
COMMENT ON FUNCTION pgtq.cancel(bigint) IS
'Cancels a task: a waiting one ends cancelled, a running one is asked to stop (NOTIFY pgtq_cancel). False: unknown or already finished. Errors: 22004 NULL id.';

CREATE OR REPLACE FUNCTION pgtq.cancel_all(queue text DEFAULT NULL, task text DEFAULT NULL,
                                created_after timestamptz DEFAULT NULL,
                                created_before timestamptz DEFAULT NULL,
                                states pgtq.task_state[] DEFAULT '{queued,scheduled}',
                                max_count integer DEFAULT 10000,
                                dry_run boolean DEFAULT false)
RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  ids       bigint[];
  cancelled bigint[];
  asked     bigint[];
BEGIN
  PERFORM pgtq.check_filter('pgtq.cancel_all: ', cancel_all.queue, cancel_all.task, NULL,
                            cancel_all.states, '{queued,scheduled,running}', max_count,
                            dry_run);
  IF dry_run THEN
    RETURN (SELECT count(*) FROM pgtq.live_tasks l
             WHERE l.state = ANY (cancel_all.states) AND NOT l.cancel_requested
               AND (cancel_all.queue IS NULL OR l.queue = cancel_all.queue)
               AND (cancel_all.task IS NULL OR l.task = cancel_all.task)
               AND (created_after IS NULL OR l.created_at >= created_after)
               AND (created_before IS NULL OR l.created_at < created_before));
  END IF;
  ids := ARRAY(SELECT l.id FROM pgtq.live_tasks l
                WHERE l.state = ANY (cancel_all.states) AND NOT l.cancel_requested
                  AND (cancel_all.queue IS NULL OR l.queue = cancel_all.queue)
                  AND (cancel_all.task IS NULL OR l.task = cancel_all.task)
                  AND (created_after IS NULL OR l.created_at >= created_after)
                  AND (created_before IS NULL OR l.created_at < created_before)
                ORDER BY l.id LIMIT max_count FOR UPDATE);
  -- A row locked by a claim or an outcome was waited for: it may have moved on since it
  -- was picked (claimed, finished), so each statement below checks the state again.
  WITH gone AS (
    DELETE FROM pgtq.live_tasks l
     WHERE l.id = ANY (ids) AND l.state IN ('queued', 'scheduled')
    RETURNING l AS task
  ), stored AS (
    INSERT INTO pgtq.finished_tasks
    SELECT (pgtq.finished_row(g.task, 'cancelled', NULL, (g.task).last_error, false)).*
      FROM gone g
    RETURNING id
  )
  SELECT array_agg(s.id) INTO cancelled FROM stored s;
  PERFORM pgtq.notify_ended(cancelled);
  WITH stopping AS (
    UPDATE pgtq.live_tasks l SET cancel_requested = true
     WHERE l.id = ANY (ids) AND l.state = 'running'
    RETURNING l.id
  )
  SELECT array_agg(s.id) INTO asked FROM stopping s;
  -- One notification per running task, as pgtq.cancel sends: its daemon stops it at once.
  PERFORM pg_notify('pgtq_cancel', a::text) FROM unnest(asked) AS a;
  RETURN coalesce(cardinality(cancelled), 0) + coalesce(cardinality(asked), 0);
END $$;
COMMENT ON FUNCTION pgtq.cancel_all(text, text, timestamptz, timestamptz, pgtq.task_state[], integer, boolean) IS
'Cancels live tasks that match, as pgtq.cancel, at most max_count (1..100000, default 10000; oldest id first). Filters (NULL: any): queue, task, created_at in [created_after, created_before), states (queued, scheduled and/or running; default queued and scheduled). Returns how many were cancelled or asked to stop; dry_run: how many match (not capped by max_count), locking and changing nothing. Errors: 22004 NULL states, max_count or dry_run, 22023 bad name, states, max_count or an empty error_contains.';

CREATE OR REPLACE FUNCTION pgtq.delete(id bigint) RETURNS boolean
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  found_state pgtq.task_state;
BEGIN
  IF delete.id IS NULL THEN
    RAISE EXCEPTION 'pgtq.delete: id must not be NULL' USING ERRCODE = 'null_value_not_allowed';
  END IF;
  DELETE FROM pgtq.finished_tasks f WHERE f.id = delete.id;
  IF FOUND THEN
    RETURN true;
  END IF;
  SELECT l.state INTO found_state FROM pgtq.live_tasks l WHERE l.id = delete.id FOR UPDATE;
  IF NOT FOUND THEN
    -- It may have moved to the history meanwhile (a daemon finished it, a cancel): the lock
    -- waited for that move to commit, and this statement's snapshot sees it.
    DELETE FROM pgtq.finished_tasks f WHERE f.id = delete.id;
    RETURN FOUND;
  END IF;
  IF found_state = 'running' THEN
    RAISE EXCEPTION 'pgtq.delete: task % is running; cancel it (pgtq.cancel) and delete it once it has ended',
      delete.id USING ERRCODE = 'object_not_in_prerequisite_state';
  END IF;
  DELETE FROM pgtq.live_tasks l WHERE l.id = delete.id;
  PERFORM pgtq.notify_ended(ARRAY[delete.id]);
  RETURN true;
END $$;
COMMENT ON FUNCTION pgtq.delete(bigint) IS
'Deletes a task that is not running (finished, queued or scheduled), leaving no trace. False: unknown. Errors: 22004 NULL id, 55000 the task is running (cancel it first).';

CREATE OR REPLACE FUNCTION pgtq.delete_all(states pgtq.task_state[], queue text DEFAULT NULL,
                                task text DEFAULT NULL,
                                created_after timestamptz DEFAULT NULL,
                                created_before timestamptz DEFAULT NULL,
                                max_count integer DEFAULT 10000,
                                dry_run boolean DEFAULT false)
RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  ids     bigint[];
  live    bigint[];
  history bigint;
BEGIN
  PERFORM pgtq.check_filter('pgtq.delete_all: ', delete_all.queue, delete_all.task, NULL,
                            delete_all.states, '{queued,scheduled,succeeded,failed,cancelled}',
                            max_count, dry_run);
  IF dry_run THEN
    RETURN (SELECT count(*) FROM pgtq.delete_matches(delete_all.queue, delete_all.task,
                                                     created_after, created_before,
                                                     delete_all.states));
  END IF;
  ids := ARRAY(SELECT m.id FROM pgtq.delete_matches(delete_all.queue, delete_all.task,
                                                    created_after, created_before,
                                                    delete_all.states) AS m(id)
                ORDER BY m.id LIMIT max_count);
  -- A live task claimed since it was picked is running now: the DELETE reads its row again
  -- once the claim commits, and leaves it.
  WITH gone AS (
    DELETE FROM pgtq.live_tasks l
     WHERE l.id = ANY (ids) AND l.state IN ('queued', 'scheduled')
       AND l.state = ANY (delete_all.states)
    RETURNING l.id
  )
  SELECT array_agg(g.id) INTO live FROM gone g;
  PERFORM pgtq.notify_ended(live);
  DELETE FROM pgtq.finished_tasks f WHERE f.id = ANY (ids) AND f.state = ANY (delete_all.states);
  GET DIAGNOSTICS history = ROW_COUNT;
  RETURN coalesce(cardinality(live), 0) + history;
END $$;
COMMENT ON FUNCTION pgtq.delete_all(pgtq.task_state[], text, text, timestamptz, timestamptz, integer, boolean) IS
'Deletes tasks that match, leaving no trace, at most max_count (1..100000, default 10000; oldest id first): states (required: one or more of queued, scheduled, succeeded, failed, cancelled; running tasks are never deleted), queue, task, created_at in [created_after, created_before) (NULL: any). Returns how many were deleted; dry_run: how many match (not capped), changing nothing. Call again for more. Errors: 22004 NULL states, max_count or dry_run, 22023 bad name, states or max_count.';

CREATE OR REPLACE FUNCTION pgtq.fire_schedules(max_count integer) RETURNS integer
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  s       pgtq.schedules;
  now_at  timestamptz;
  parsed  bigint[];
  fires   timestamptz[];
  f       timestamptz;
  g       timestamptz;
  lo      timestamptz;
  upper   timestamptz;
  mid     timestamptz;
  start   timestamptz;
  w       interval;
  task_id bigint;
  pushed  integer := 0;
BEGIN
  FOR s IN SELECT * FROM pgtq.schedules x
            WHERE x.enabled AND x.next_fire_at <= clock_timestamp()
            ORDER BY x.next_fire_at LIMIT max_count FOR UPDATE SKIP LOCKED LOOP
    BEGIN
      now_at := clock_timestamp();
      parsed := CASE WHEN s.cron IS NOT NULL
                     THEN pgtq.cron_parse('pgtq.fire_schedules', s.cron) END;
      fires := '{}';
      IF s.catch_up = 'all' THEN
        f := pgtq.schedule_next(parsed, s.every, s.time_zone,
                                greatest(s.next_fire_at, now_at - s.catch_up_within)
                                - interval '1 microsecond');
        WHILE f <= now_at AND cardinality(fires) < 1000 LOOP
          fires := fires || f;
          f := pgtq.schedule_next(parsed, s.every, s.time_zone, f);
        END LOOP;
      ELSE
        -- The newest fire time due: looked for in windows that grow back from now, so that
        -- an every-second schedule stopped for a week does not walk through its week.
        lo := greatest(s.next_fire_at,
                       now_at - CASE WHEN s.catch_up = 'none' THEN interval '1 minute'
                                     ELSE s.catch_up_within END);
        FOREACH w IN ARRAY ARRAY[interval '1 minute', interval '1 hour', interval '1 day',
                                 interval '32 days', interval '400 days', interval '100 years']
        LOOP
          start := greatest(lo, now_at - w);
          f := pgtq.schedule_next(parsed, s.every, s.time_zone, start - interval '1 microsecond');
          IF f <= now_at THEN
            -- The newest fire time in [f, now_at], by halving the span where it can be, not
            -- by walking each fire time: a cron firing every second of 20 hours a day would
            -- walk 1,800 of them for a window of an hour. upper: no fire time in
            -- [upper, now_at]. The midpoint is taken in seconds of elapsed time, so that no
            -- session time zone's day lengths can put it past upper.
            upper := now_at + interval '1 microsecond';
            LOOP
              g := pgtq.schedule_next(parsed, s.every, s.time_zone, f);
              EXIT WHEN g IS NULL OR g >= upper;
              f := g;
              mid := f + make_interval(secs => extract(epoch FROM upper - f) / 2);
              IF mid > f AND mid < upper THEN
                g := pgtq.schedule_next(parsed, s.every, s.time_zone, mid - interval '1 microsecond');
                IF g < upper THEN
                  f := g;
                ELSE
                  upper := mid;
                END IF;
              END IF;
            END LOOP;
            fires := ARRAY[f];
            EXIT;
          END IF;
          EXIT WHEN start = lo;
        END LOOP;
      END IF;
      FOREACH f IN ARRAY fires LOOP
        task_id := pgtq.push(s.queue, s.task, s.args, run_at => f, priority => s.priority,
                             max_attempts => s.max_attempts, timeout => s.timeout,
                             unique_key => 'pgtq.schedule:' || s.name || '@'
                                           || to_char(f AT TIME ZONE 'UTC',
                                                      'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
                             unique_states => enum_range(NULL::pgtq.task_state));
        pushed := pushed + 1;
      END LOOP;
      UPDATE pgtq.schedules x
         SET next_fire_at = pgtq.schedule_next(
               parsed, s.every, s.time_zone,
               CASE WHEN s.catch_up = 'all' AND cardinality(fires) = 1000
                    THEN fires[1000] ELSE now_at END),
             last_fire_at = coalesce(fires[cardinality(fires)], x.last_fire_at),
             last_task_id = CASE WHEN cardinality(fires) > 0 THEN task_id ELSE x.last_task_id END,
             last_error = NULL
       WHERE x.name = s.name;
    EXCEPTION WHEN OTHERS THEN
      UPDATE pgtq.schedules x
         SET next_fire_at = clock_timestamp() + interval '1 minute', -- computes nothing
             last_error = left(SQLERRM, 1024)
       WHERE x.name = s.name;
    END;
  END LOOP;
  RETURN pushed;
END $$;
COMMENT ON FUNCTION pgtq.fire_schedules(integer) IS
'Fires the due schedules (at most max_count), as their catch_up says, and moves their next_fire_at on; returns how many tasks it pushed. pgtq.tick calls it; a fire that fails records last_error and moves on.';

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
  stopped    boolean;          -- the queue's settings, read once its turn began
  cap        integer;
  rate       integer;
  per        interval;
  used       bigint;
  room       bigint;           -- what the limits leave, before max_count
  rate_room  bigint;           -- what the rate limit leaves
  first_at   timestamptz;      -- the oldest entry of the rate window, once written
  keyed      boolean := false; -- queued tasks of the queue carry fairness keys
  limited    boolean;
  key_cap    integer;
  key_rate   integer;
  key_per    interval;
  turn_at    timestamptz;      -- when this call's turn began: its window entry and start time
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
    IF keyed THEN
      picked := pgtq.fair_pick(claim.queue, task_names, take, key_cap, key_rate, key_per, turn_at);
    ELSE
      SELECT array_agg(p.id) INTO picked
        FROM (SELECT l.id FROM pgtq.live_tasks l
               WHERE l.queue = claim.queue AND l.state = 'queued' AND l.fairness_key IS NULL
                 AND l.task = ANY (task_names)
                 -- Evaluated once per call (they name no column of l): a paused queue hands
                 -- out nothing, and neither does a limited or fair one before its turn.
                 AND (capped OR NOT EXISTS (SELECT 1 FROM pgtq.queues q
                                             WHERE q.queue = claim.queue
                                               AND (q.paused OR q.global_concurrency IS NOT NULL
                                                    OR q.rate_limit IS NOT NULL)))
                 AND (capped OR NOT EXISTS (SELECT 1 FROM pgtq.live_tasks k
                                             WHERE k.queue = claim.queue AND k.state = 'queued'
                                               AND k.fairness_key IS NOT NULL))
               ORDER BY l.priority, l.run_at, l.id
               LIMIT take
                 FOR NO KEY UPDATE SKIP LOCKED) p;
    END IF;
    -- Something claimed, or nothing queued: done. Only a paused, limited or fair queue goes on.
    EXIT WHEN picked IS NOT NULL OR capped OR max_count = 0;
    SELECT coalesce(q.paused, false),
           q.global_concurrency IS NOT NULL OR q.rate_limit IS NOT NULL,
           EXISTS (SELECT 1 FROM pgtq.live_tasks k
                    WHERE k.queue = claim.queue AND k.state = 'queued'
                      AND k.fairness_key IS NOT NULL)
      INTO stopped, limited, keyed
      FROM (SELECT 1) AS one LEFT JOIN pgtq.queues q ON q.queue = claim.queue;
    EXIT WHEN stopped OR NOT (limited OR keyed);
    IF current_setting('transaction_isolation') <> 'read committed' THEN
      RAISE EXCEPTION 'pgtq.claim: queue "%" has a concurrency or rate limit or fairness keys, '
        'which claims keep only in READ COMMITTED; this transaction is %', claim.queue,
        upper(current_setting('transaction_isolation'))
        USING ERRCODE = 'invalid_transaction_state';
    END IF;
    EXIT WHEN NOT pg_try_advisory_xact_lock(1885828210, hashtext(claim.queue));
    -- One clock for the rate window and the tasks' started_at: the window then holds exactly
    -- the starts its tasks show (a clock read per row would start them a little later than
    -- the window says, and a window of starts could hold one more than the limit).
    turn_at := clock_timestamp();
    -- Read once the turn began: the claims before it have committed what they took.
    SELECT q.paused, q.global_concurrency, q.rate_limit, q.rate_period, q.key_concurrency,
           q.key_rate_limit, q.key_rate_period
      INTO stopped, cap, rate, per, key_cap, key_rate, key_per
      FROM pgtq.queues q WHERE q.queue = claim.queue;
    EXIT WHEN stopped;
    room := max_count + 1;
    IF cap IS NOT NULL THEN
      SELECT least(room, cap - count(*)) INTO room FROM pgtq.live_tasks l
       WHERE l.state = 'running' AND l.queue = claim.queue;
    END IF;
    IF rate IS NOT NULL THEN
      SELECT rate - coalesce(sum(s.n), 0) INTO rate_room
        FROM pgtq.queues q, unnest(q.rate_starts, q.rate_counts) AS s(at, n)
       WHERE q.queue = claim.queue AND s.at > turn_at - per;
      room := least(room, rate_room);
    END IF;
    take := greatest(least(max_count, room), 0);
    capped := true;
    EXIT WHEN take = 0;
  END LOOP;
  IF capped AND picked IS NOT NULL THEN
    IF rate IS NOT NULL THEN
      -- The window: the claims of the last period, and this one.
      UPDATE pgtq.queues q
         SET (rate_starts, rate_counts) =
             (SELECT w.new_starts, w.new_counts
                FROM pgtq.rate_window_add(q.rate_starts, q.rate_counts, turn_at, per,
                                          cardinality(picked)) w)
       WHERE q.queue = claim.queue
      RETURNING q.rate_starts[1] INTO first_at;
      -- The window is full: room comes when its oldest entry leaves. The schedulers wake the
      -- queue then (pgtq.next_rate_room); one asleep past it is told now.
      IF cardinality(picked) >= rate_room THEN
        PERFORM pgtq.wake_schedulers(first_at + per);
      END IF;
    END IF;
    -- It took all it asked for and left room: a claimer that found the turn taken may take
    -- the rest once this commits.
    IF cardinality(picked) = take AND room > take THEN
      PERFORM pgtq.wake_queue(claim.queue);
    END IF;
  END IF;
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
           started_at = coalesce(turn_at, clock_timestamp()), locked_by = worker,
           locked_until = clock_timestamp() + lease
     WHERE l.id = ANY (picked)
    RETURNING l.id, l.claim, l.task, l.args, l.attempts, l.max_attempts, l.timeout, l.priority,
              l.run_at
  )
  SELECT c.id, c.claim, c.task, c.args, c.attempts, c.max_attempts, c.timeout
    FROM claimed c ORDER BY c.priority, c.run_at, c.id;
END $$;
COMMENT ON FUNCTION pgtq.claim(text, text[], integer, text, interval) IS
'Claims up to max_count (0..100000) queued tasks of queue named in task_names, in (priority, run_at, id) order (none while the queue is paused; with a global concurrency limit, at most the limit less the running tasks of the queue; with a rate limit, at most the limit less the tasks claimed in the last rate_period; while queued tasks carry fairness keys, the keys take turns, each key at most the queue''s key_concurrency running and key_rate_limit claimed per key_rate_period; claims of a limited or fair queue take turns; call it in READ COMMITTED), for worker (1..1024 characters) with a lease of 1 second..1 day. Returns id, claim token (random, 64 bits), task, args, attempt, max_attempts, timeout (the push''s, NULL if none). pgtqd uses it; programs without pgtqd use pgtq.pop. Errors: 22004 NULL, 22023 bad value.';

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
       FOR NO KEY UPDATE OF l SKIP LOCKED
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
COMMENT ON FUNCTION pgtq.heartbeat(bigint[], bigint[], interval) IS
'Renews leases (1 second..1 day) of the tasks held under (task_ids[i], task_claims[i]); arrays of equal length, <= 100000. One row per distinct pair: renewed, busy (row locked by another session, ask again), lost (stop), cancel (renewed, but stop). Errors: 22004 NULL, 22023 bad value, 54000 too many.';

CREATE OR REPLACE FUNCTION pgtq.fair_pick(queue text, task_names text[], take integer, key_cap integer,
                               key_rate integer, key_per interval, turn_at timestamptz)
RETURNS bigint[]
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_generic_plan SET enable_seqscan = off SET jit = off AS $$
DECLARE
  names_hash  bigint := hashtextextended(array_to_string(
                          ARRAY(SELECT DISTINCT n FROM unnest(task_names) AS n ORDER BY n),
                          chr(31)), 0);
  looks       integer := 4 * take + 64; -- keys looked at per claim, at most
  last_served text;    -- where the last claim stopped: a key, '' (no key) or NULL (start)
  last_taken  integer; -- how many tasks that key took in its turn so far; NULL: turn over
  first_cursor text;
  first_taken integer;
  carry       integer := 0; -- what is left of that key's turn (its weight less what it took)
  next_taken  integer;
  look_further boolean; -- nothing to take among as many keys as a claim looks at: look on
  wake_at     timestamptz; -- when a key held back by key_rate gets room, the first of them
  chosen      bigint[];
  chosen_keys text[];  -- each chosen task's key, '' for none
  picked      bigint[];
  next_last   text;
BEGIN
  SELECT c.last_key, c.last_taken INTO last_served, last_taken FROM pgtq.fairness_cursors c
   WHERE c.queue = fair_pick.queue AND c.task_set = names_hash;
  first_cursor := last_served;
  first_taken := last_taken;
  IF last_served <> '' AND last_taken IS NOT NULL THEN
    carry := greatest(coalesce((SELECT w.weight FROM pgtq.fairness_weights w
                                 WHERE w.queue = fair_pick.queue
                                   AND w.fairness_key = last_served), 1) - last_taken, 0);
  END IF;
  -- Up to 64 stretches of looks keys each, within this claim: keys that cannot be served are
  -- passed over at once, not one claim (a poll interval, when idle) per stretch.
  FOR walk IN 1 .. 64 LOOP
  WITH RECURSIVE after_cursor(key, n, served, room, free_at) AS (
    -- The keys after the cursor, one index descent each (a loose index scan), until take of
    -- them can be served.
    SELECT k.key, 1, (s.room > 0)::integer, s.room, s.free_at
      FROM (SELECT min(l.fairness_key) AS key FROM pgtq.live_tasks l
             WHERE l.queue = fair_pick.queue AND l.state = 'queued'
               AND l.fairness_key IS NOT NULL
               AND l.fairness_key > coalesce(last_served, '')) k
      CROSS JOIN LATERAL pgtq.fair_key_room(fair_pick.queue, k.key, task_names, key_cap, take,
                                            key_rate, key_per, turn_at) s
    UNION ALL
    SELECT k.key, a.n + 1, a.served + (s.room > 0)::integer, s.room, s.free_at
      FROM after_cursor a
      CROSS JOIN LATERAL (SELECT min(l.fairness_key) AS key FROM pgtq.live_tasks l
                           WHERE l.queue = fair_pick.queue AND l.state = 'queued'
                             AND l.fairness_key IS NOT NULL AND l.fairness_key > a.key) k
      CROSS JOIN LATERAL pgtq.fair_key_room(fair_pick.queue, k.key, task_names, key_cap, take,
                                            key_rate, key_per, turn_at) s
     WHERE a.key IS NOT NULL AND a.served < take AND a.n < looks
  ), from_start(key, n, served, room, free_at) AS (
    -- Then, once the walk ran out of keys (its last row has none) with room to spare, round
    -- again: the keys up to the cursor.
    SELECT k.key, e.n + 1, e.served + (s.room > 0)::integer, s.room, s.free_at
      FROM (SELECT max(a.n) AS n, max(a.served) AS served FROM after_cursor a
             HAVING bool_or(a.key IS NULL)) e
      CROSS JOIN (SELECT min(l.fairness_key) AS key FROM pgtq.live_tasks l
                   WHERE l.queue = fair_pick.queue AND l.state = 'queued'
                     AND l.fairness_key IS NOT NULL) k
      CROSS JOIN LATERAL pgtq.fair_key_room(fair_pick.queue, k.key, task_names, key_cap, take,
                                            key_rate, key_per, turn_at) s
     WHERE last_served <> '' AND e.served < take AND e.n < looks
    UNION ALL
    SELECT k.key, f.n + 1, f.served + (s.room > 0)::integer, s.room, s.free_at
      FROM from_start f
      CROSS JOIN LATERAL (SELECT min(l.fairness_key) AS key FROM pgtq.live_tasks l
                           WHERE l.queue = fair_pick.queue AND l.state = 'queued'
                             AND l.fairness_key IS NOT NULL AND l.fairness_key > f.key) k
      CROSS JOIN LATERAL pgtq.fair_key_room(fair_pick.queue, k.key, task_names, key_cap, take,
                                            key_rate, key_per, turn_at) s
     WHERE f.key IS NOT NULL AND f.key < last_served AND f.served < take AND f.n < looks
  ), turns(key, pos, room) AS (
    -- The key the last claim stopped at, first, when its weight leaves it more of its turn.
    SELECT last_served, -1,
           (pgtq.fair_key_room(fair_pick.queue, last_served, task_names, key_cap, take,
                               key_rate, key_per, turn_at)).room
     WHERE carry > 0
    UNION ALL
    -- The tasks without a key take their turn where a round starts: first when no claim
    -- stopped anywhere yet, else after the keys past the cursor.
    SELECT NULL::text, CASE WHEN last_served IS NULL THEN 0 ELSE looks + 1 END,
           CASE WHEN EXISTS (SELECT 1 FROM pgtq.live_tasks l
                              WHERE l.queue = fair_pick.queue AND l.state = 'queued'
                                AND l.fairness_key IS NULL AND l.task = ANY (task_names))
                THEN take ELSE 0 END
    UNION ALL
    SELECT a.key, a.n, a.room FROM after_cursor a WHERE a.key IS NOT NULL
    UNION ALL
    SELECT f.key, looks + 1 + f.n, f.room FROM from_start f
     WHERE f.key IS NOT NULL AND f.key <= last_served
  ), served AS (
    -- A key whose turn goes on is served at its place in front (pos -1) only; its place at the
    -- end of the round stays in turns, where a claim that serves nobody stops.
    SELECT t.key, t.pos, t.room FROM turns t
     WHERE t.room > 0 AND (carry = 0 OR t.pos < 0 OR t.key IS DISTINCT FROM last_served)
     ORDER BY t.pos LIMIT take
  ), weighed AS (
    SELECT v.key, v.pos, v.room,
           coalesce((SELECT w.weight FROM pgtq.fairness_weights w
                      WHERE v.key IS NOT NULL AND w.queue = fair_pick.queue
                        AND w.fairness_key = v.key), 1) AS weight
      FROM served v
  ), visited AS (
    -- Of S keys served, one gets no more than its room, and beyond its first turn (its weight,
    -- or what is left of the turn carried over) only once the S - 1 others took one each: at
    -- most the larger of the two and take - S + 1.
    SELECT v.key, v.pos, v.weight,
           least(v.room, take, greatest(CASE WHEN v.pos = -1 THEN carry ELSE v.weight END,
                                        take - count(*) OVER () + 1)) AS quota
      FROM weighed v
  ), candidates AS (
    -- A key's rn-th task goes in its turn number turn, as the in_turn-th of weight: the rest
    -- of the turn of the key the last claim stopped at is turn 0; the keys past the cursor
    -- start with theirs, those from the start (served already in this round) come after.
    SELECT v.key, v.pos, c.id, v.weight,
           CASE WHEN v.pos <> -1 THEN (c.rn - 1) / v.weight
                WHEN c.rn <= carry THEN 0
                ELSE (c.rn - carry - 1) / v.weight + 1 END AS turn,
           CASE WHEN v.pos <> -1 THEN (c.rn - 1) % v.weight + 1
                WHEN c.rn <= carry THEN last_taken + c.rn
                ELSE (c.rn - carry - 1) % v.weight + 1 END AS in_turn
      FROM visited v
      CROSS JOIN LATERAL (
        (SELECT l.id, row_number() OVER (ORDER BY l.priority, l.run_at, l.id) AS rn
           FROM pgtq.live_tasks l
          WHERE v.key IS NOT NULL
            AND l.queue = fair_pick.queue AND l.state = 'queued'
            AND l.fairness_key IS NOT NULL AND l.fairness_key = v.key
            AND l.task = ANY (task_names)
          ORDER BY l.priority, l.run_at, l.id LIMIT greatest(v.quota, 0))
        UNION ALL
        (SELECT l.id, row_number() OVER (ORDER BY l.priority, l.run_at, l.id) AS rn
           FROM pgtq.live_tasks l
          WHERE v.key IS NULL
            AND l.queue = fair_pick.queue AND l.state = 'queued' AND l.fairness_key IS NULL
            AND l.task = ANY (task_names)
          ORDER BY l.priority, l.run_at, l.id LIMIT greatest(v.quota, 0))) c
  ), taken AS (
    SELECT c.id, c.key, c.in_turn, c.weight,
           row_number() OVER (ORDER BY c.turn, c.pos, c.in_turn) AS n
      FROM candidates c ORDER BY c.turn, c.pos, c.in_turn LIMIT take
  )
  SELECT (SELECT array_agg(t.id ORDER BY t.n) FROM taken t),
         (SELECT array_agg(coalesce(t.key, '') ORDER BY t.n) FROM taken t),
         -- Where the next claim starts: after the last key served, or, when none could be,
         -- after the last key looked at (never at the tasks without a key, which would send
         -- it back to the first key).
         coalesce((SELECT coalesce(t.key, '') FROM taken t ORDER BY t.n DESC LIMIT 1),
                  (SELECT t.key FROM turns t WHERE t.key IS NOT NULL ORDER BY t.pos DESC LIMIT 1),
                  last_served),
         -- The walk after the cursor stopped at its bound, not at the last key.
         NOT EXISTS (SELECT 1 FROM taken)
           AND NOT EXISTS (SELECT 1 FROM after_cursor a WHERE a.key IS NULL),
         -- How far the last key served got in its turn, while its weight leaves it more (NULL:
         -- its turn is over, or no key served): with weights of 1 always NULL.
         (SELECT CASE WHEN t.key IS NOT NULL AND t.in_turn < t.weight THEN t.in_turn END
            FROM taken t ORDER BY t.n DESC LIMIT 1),
         -- The first time a key its rate limit held back gets room.
         least(wake_at, (SELECT min(a.free_at) FROM after_cursor a),
               (SELECT min(f.free_at) FROM from_start f))
    INTO chosen, chosen_keys, next_last, look_further, next_taken, wake_at;
    EXIT WHEN NOT look_further;
    last_served := next_last;
    carry := 0;
  END LOOP;
  IF chosen IS NULL AND next_last IS NOT DISTINCT FROM first_cursor THEN
    next_taken := first_taken; -- nobody served: the turn under way stays as it was
  END IF;
  IF next_last IS DISTINCT FROM first_cursor OR next_taken IS DISTINCT FROM first_taken THEN
    INSERT INTO pgtq.fairness_cursors AS c (queue, task_set, last_key, last_taken)
    VALUES (fair_pick.queue, names_hash, next_last, next_taken)
    ON CONFLICT ON CONSTRAINT fairness_cursors_pkey
    DO UPDATE SET last_key = excluded.last_key, last_taken = excluded.last_taken;
  END IF;
  IF chosen IS NOT NULL THEN
    -- Chosen without locks: a task another session claimed meanwhile is skipped here, and so
    -- is one whose name or key a replacing push changed since.
    SELECT array_agg(l.id) INTO picked
      FROM (SELECT l.id FROM pgtq.live_tasks l, unnest(chosen, chosen_keys) AS c(id, key)
             WHERE l.id = ANY (chosen) AND l.id = c.id AND l.state = 'queued'
               AND l.task = ANY (task_names) AND coalesce(l.fairness_key, '') = c.key
               FOR NO KEY UPDATE OF l SKIP LOCKED) l;
  END IF;
  IF key_rate IS NOT NULL AND picked IS NOT NULL THEN
    -- Each key's window: the claims of the last key_per that took its tasks, and this one.
    INSERT INTO pgtq.key_rate_windows AS w (queue, fairness_key, starts, counts)
    SELECT fair_pick.queue, c.key, ARRAY[turn_at], ARRAY[count(*)::integer]
      FROM unnest(chosen, chosen_keys) AS c(id, key)
     WHERE c.id = ANY (picked) AND c.key <> ''
     GROUP BY c.key
    ON CONFLICT ON CONSTRAINT key_rate_windows_pkey
    DO UPDATE SET (starts, counts) =
                  (SELECT a.new_starts, a.new_counts
                     FROM pgtq.rate_window_add(w.starts, w.counts, turn_at, key_per,
                                               excluded.counts[1]) a);
  END IF;
  IF key_rate IS NOT NULL THEN
    -- pgtq.tick wakes the queue then: a claim that came back short for a key's rate limit is
    -- followed by nothing else that would announce the room. Written after the windows, as
    -- pgtq.claim writes the queue's row after them too (one lock order).
    UPDATE pgtq.queues q SET key_rate_wake_at = wake_at
     WHERE q.queue = fair_pick.queue AND q.key_rate_wake_at IS DISTINCT FROM wake_at;
    -- The schedulers wake the queue then (pgtq.next_rate_room); one asleep past it is told.
    IF FOUND AND wake_at IS NOT NULL THEN
      PERFORM pgtq.wake_schedulers(wake_at);
    END IF;
  END IF;
  RETURN picked;
END $$;

CREATE OR REPLACE FUNCTION pgtq.sweep_gone_workers() RETURNS integer
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  ended   integer := 0;
  since   timestamptz := (SELECT a.backend_start FROM pg_stat_get_activity(pg_backend_pid()) a);
  workers text[];
  queues  text[];
BEGIN
  IF NOT pg_try_advisory_xact_lock(hashtext('pgtq.sweep_gone_workers')) THEN
    RETURN 0;
  END IF;
  -- The rows first, then the sessions: a backend-status snapshot older than a row's newest
  -- write could take the session it names for gone. Locked, a row cannot change meanwhile.
  SELECT array_agg(c.worker), array_agg(c.queue) INTO workers, queues
    FROM (SELECT g.worker, g.queue FROM pgtq.workers g
           WHERE g.session_pid IS NOT NULL AND g.session_started IS NOT NULL
             AND g.session_grace IS NOT NULL
             AND g.server_started = pg_postmaster_start_time()
             AND since <= clock_timestamp() - g.heartbeat
             AND (g.session_shared_until IS NULL OR g.session_shared_until < clock_timestamp())
             FOR UPDATE SKIP LOCKED) c;
  IF workers IS NULL THEN
    RETURN 0;
  END IF;
  PERFORM pg_stat_clear_snapshot();
  -- Gone: no backend of that pid started then. One whose start this role may not see counts
  -- as alive.
  UPDATE pgtq.workers w
     SET session_gone_at = clock_timestamp()
   WHERE (w.worker, w.queue) IN (SELECT * FROM unnest(workers, queues))
     AND w.session_gone_at IS NULL
     AND NOT EXISTS (SELECT 1 FROM pg_stat_get_activity(w.session_pid) a
                      WHERE a.backend_start IS NULL OR a.backend_start = w.session_started);
  WITH gone AS (
    UPDATE pgtq.workers w
       SET session_pid = NULL, session_started = NULL
     WHERE (w.worker, w.queue) IN (SELECT * FROM unnest(workers, queues))
       AND w.session_gone_at <= clock_timestamp() - w.session_grace
       AND NOT EXISTS (SELECT 1 FROM pg_stat_get_activity(w.session_pid) a
                        WHERE a.backend_start IS NULL OR a.backend_start = w.session_started)
    RETURNING w.worker, w.queue, w.session_gone_at
  ), held AS (
    -- Claimed before the note only: a task claimed later is another pgtqd's under the same
    -- worker-name (a restart), whose row will say so.
    SELECT l.id FROM pgtq.live_tasks l JOIN gone ON l.queue = gone.queue AND l.locked_by = gone.worker
     WHERE l.state = 'running' AND l.started_at < gone.session_gone_at
       AND l.locked_until > clock_timestamp()
       FOR NO KEY UPDATE OF l SKIP LOCKED
  )
  UPDATE pgtq.live_tasks l SET locked_until = clock_timestamp()
    FROM held WHERE l.id = held.id;
  GET DIAGNOSTICS ended = ROW_COUNT;
  RETURN ended;
END $$;
COMMENT ON FUNCTION pgtq.sweep_gone_workers() IS
'Ends the leases of the running tasks of workers (pgtq.workers) whose recorded lease session has been gone for their session_grace without a newer registration, so that the next pgtq.tick rescues them instead of waiting out the leases. Notes sessions found gone; ignores sessions of an earlier server run. Returns the number of leases ended. One caller at a time; the others return 0.';
