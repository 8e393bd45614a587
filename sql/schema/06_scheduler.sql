-- The scheduler's work and the history's pruning.

-- When a rate limit next lets a claim through that it holds back now: the earliest time a
-- full rate window of a queue that is not paused and has queued tasks gets room (its oldest
-- starts leave the window), or a key held back by its queue's rate limit per key does
-- (key_rate_wake_at, 16_fairness.sql). NULL: none is held back. pgtq.tick folds it into its
-- next_due, so that a scheduler wakes the queue then instead of at its next tick by the
-- clock: a limit of 50 a second then starts 50 a second, not 50 per second and a fraction.
CREATE FUNCTION pgtq.next_rate_room() RETURNS timestamptz
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
  SELECT least(
    (SELECT min(r.room_at)
       FROM pgtq.queues q
       CROSS JOIN LATERAL (
         -- The window's entries, oldest first, with how many leave with each: room comes when
         -- what stays is below the limit.
         SELECT min(w.at) + q.rate_period AS room_at
           FROM (SELECT s.at, sum(s.n) OVER (ORDER BY s.at) AS gone,
                        sum(s.n) OVER () AS held
                   FROM unnest(q.rate_starts, q.rate_counts) AS s(at, n)
                  WHERE s.at > clock_timestamp() - q.rate_period) w
          WHERE w.held >= q.rate_limit AND w.held - w.gone < q.rate_limit) r
      WHERE q.rate_limit IS NOT NULL AND NOT q.paused
        AND (EXISTS (SELECT 1 FROM pgtq.live_tasks l
                      WHERE l.queue = q.queue AND l.state = 'queued' AND l.fairness_key IS NULL)
             OR EXISTS (SELECT 1 FROM pgtq.live_tasks l
                         WHERE l.queue = q.queue AND l.state = 'queued'
                           AND l.fairness_key IS NOT NULL))),
    (SELECT min(q.key_rate_wake_at) FROM pgtq.queues q
      WHERE q.key_rate_wake_at > clock_timestamp() AND q.key_rate_limit IS NOT NULL
        AND NOT q.paused));
$$;
COMMENT ON FUNCTION pgtq.next_rate_room() IS
'When a rate limit (a queue''s, or per fairness key) next lets a claim through that it holds back now, for queues not paused with queued tasks; NULL when none is held back. pgtq.tick''s next_due includes it.';

-- The scheduler's periodic work, safe to run from any number of daemons at once:
--   0. due schedules fire (pgtq.fire_schedules, 18_schedules.sql);
--   1. scheduled tasks whose run_at has come become queued (and their queues are woken);
--   2. running tasks whose lease expired are rescued: queued again, the attempt counted and
--      an error recorded, or failed when no attempts are left (cancelled when a
--      cancellation was requested);
--   3. rate-limited queues with room in their window and queued tasks are woken, and so are
--      queues with a rate limit per key once a key the limit held back has room;
--   4. registrations of idle workers and waiting schedulers whose session has ended are
--      removed (09_wake_ups.sql), and so are workers not heard from for a day
--      (13_workers.sql).
-- Only one caller at a time does the work (a transaction-level advisory lock); the others
-- return at once. Returns the counts and the next run_at among scheduled tasks, or the time
-- a rate limit next has room for a claim it holds back if that comes first
-- (pgtq.next_rate_room), so the caller can sleep until then.
-- No row can make it raise: next_due is clamped to within 100 years of now (an 'infinity'
-- run_at written straight into the table made every scheduler's tick fail), lease errors
-- quote at most 1024 characters of the worker name, notifications skip queue names no
-- channel payload can carry, and the errors list is trimmed before appending.
CREATE FUNCTION pgtq.tick(max_count integer DEFAULT 10000,
                          OUT promoted integer, OUT rescued integer,
                          OUT failed integer, OUT next_due timestamptz)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  wake        text[];
  rescue_wake text[];
  ended       text[]; -- the queues of the expired tasks that ended
  ended_ids   bigint[];
  unsettled   bigint[]; -- tasks that ended without settling the tasks that wait for them
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
      PERFORM pgtq.tasks_ended(ended_ids);
    END IF;

    -- Tasks that ended outside READ COMMITTED left their dependents to this tick
    -- (20_dependencies.sql).
    WITH taken AS (
      DELETE FROM pgtq.unsettled_ends u
       WHERE u.task_id IN (SELECT g.task_id FROM pgtq.unsettled_ends g
                            ORDER BY g.task_id LIMIT max_count FOR UPDATE SKIP LOCKED)
      RETURNING u.task_id
    )
    SELECT array_agg(t.task_id) INTO unsettled FROM taken t;
    PERFORM pgtq.tasks_ended(unsettled);

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
'The scheduler''s work, at most max_count (1..100000) rows per sweep: due schedules fire (pgtq.fire_schedules), due scheduled tasks become queued, expired leases are rescued or failed, rate-limited queues with room (for the queue, or for a key its rate limit held back) are woken, the dependents of tasks that ended outside READ COMMITTED are settled (pgtq.unsettled_ends), registrations of ended sessions in idle_workers, waiting_schedulers and task_waiters, and workers not heard from for a day, are removed. One session at a time (advisory lock); others return zeros. next_due: the earliest scheduled run_at or schedule fire time (kept within 100 years of now), or the time a rate limit next has room for a claim it holds back, if earlier. Errors: 22004 NULL, 22023 out of range.';

-- Removes finished tasks that ended before the given time, which must be a finite time not
-- in the future. Returns how many. History partitions that end by then are dropped whole
-- (17_history.sql); one whose lock is not granted within 200 ms is deleted from instead.
CREATE FUNCTION pgtq.prune(finished_before timestamptz) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  removed bigint := 0;
  n       bigint;
  part    regclass;
  whole   regclass[];
  counts  bigint[] := '{}';
BEGIN
  IF finished_before IS NULL THEN
    RAISE EXCEPTION 'pgtq.prune: finished_before must not be NULL'
      USING ERRCODE = 'null_value_not_allowed';
  END IF;
  IF NOT isfinite(finished_before) OR finished_before > clock_timestamp() THEN
    RAISE EXCEPTION 'pgtq.prune: finished_before must be a finite time not after now(), got %',
      finished_before USING ERRCODE = 'invalid_parameter_value';
  END IF;
  -- After a retention pass under way, which may have listed a partition this drops.
  PERFORM pg_advisory_xact_lock(1885828212, 0);
  -- The days that go in part first, and the whole ones counted, all before the first drop:
  -- the lock that a drop takes on the history is held until the caller commits.
  FOR part IN SELECT h FROM pgtq.history_partitions() h
               WHERE pgtq.history_partition_end(h) > finished_before LOOP
    EXECUTE format('DELETE FROM %s f WHERE f.finished_at < $1', part) USING finished_before;
    GET DIAGNOSTICS n = ROW_COUNT;
    removed := removed + n;
  END LOOP;
  whole := ARRAY(SELECT h FROM pgtq.history_partitions() h
                  WHERE pgtq.history_partition_end(h) <= finished_before);
  FOREACH part IN ARRAY whole LOOP
    EXECUTE format('SELECT count(*) FROM %s', part) INTO n;
    counts := counts || n;
  END LOOP;
  FOR i IN 1 .. cardinality(whole) LOOP
    IF pgtq.drop_history_partition(whole[i], NULL) THEN
      removed := removed + counts[i];
    ELSE
      EXECUTE format('DELETE FROM %s', whole[i]);
      GET DIAGNOSTICS n = ROW_COUNT;
      removed := removed + n;
    END IF;
  END LOOP;
  RETURN removed;
END $$;
COMMENT ON FUNCTION pgtq.prune(timestamptz) IS
'Removes finished tasks that ended before finished_before (finite, not in the future), dropping the history partitions that end by then; returns how many. Errors: 22004 NULL, 22023 infinite or future.';
