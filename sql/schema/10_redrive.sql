-- Redrive and bulk administration: retry failed or cancelled tasks, cancel waiting or running
-- tasks in bulk, delete a task.
--
-- Operators' tools, off the hot path. A bulk call changes at most max_count tasks, oldest id
-- first, and returns how many it changed; it locks the rows it takes (waiting for a daemon
-- that is recording an outcome, a moment), so that no matching row is skipped. With dry_run
-- it returns how many tasks match (all of them, not capped by max_count), locking and
-- changing nothing, so it also runs on a standby. Filters left NULL match everything: a call
-- with no filter at all is allowed, and means every task in the states named.
--
-- Calling retry_all again for more: pass the same finished_before each time (pgtqctl takes
-- the time of its first call), or a retried task that fails again would match once more and
-- be retried before the tasks behind it. cancel_all needs nothing of the kind: what it
-- cancels leaves live_tasks, and running tasks asked to stop do not match again.

-- Raises the precise error for a bulk call's filter (what: the function's name and ': ').
-- states must be a non-empty one-dimensional subset of allowed, without NULL elements;
-- error_contains, if given, must not be empty (it would match every error).
CREATE FUNCTION pgtq.check_filter(what text, queue text, task text, error_contains text,
                                  states pgtq.task_state[], allowed pgtq.task_state[],
                                  max_count integer, dry_run boolean)
RETURNS void
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF queue IS NOT NULL THEN
    PERFORM pgtq.check_name('queue', queue);
  END IF;
  IF task IS NOT NULL THEN
    PERFORM pgtq.check_name('task', task);
  END IF;
  IF error_contains = '' THEN
    RAISE EXCEPTION '%error_contains must not be empty (leave it NULL to match any error)', what
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF states IS NULL THEN
    RAISE EXCEPTION '%states must not be NULL', what USING ERRCODE = 'null_value_not_allowed';
  END IF;
  IF cardinality(states) = 0 OR array_ndims(states) <> 1
     OR array_position(states, NULL) IS NOT NULL OR NOT states <@ allowed THEN
    RAISE EXCEPTION '%states must be one or more of %, got %', what, allowed, states
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF max_count IS NULL THEN
    RAISE EXCEPTION '%max_count must not be NULL', what USING ERRCODE = 'null_value_not_allowed';
  END IF;
  IF max_count NOT BETWEEN 1 AND 100000 THEN
    RAISE EXCEPTION '%max_count must be between 1 and 100000, got %', what, max_count
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF dry_run IS NULL THEN
    RAISE EXCEPTION '%dry_run must not be NULL', what USING ERRCODE = 'null_value_not_allowed';
  END IF;
END $$;

-- Moves finished tasks (ids, failed or cancelled) back into live_tasks: queued at once, or
-- scheduled when start_at is ahead. Each keeps its id, args, priority, attempts, errors,
-- created_at, unique key and last attempt's started_at; a task with no attempts left gets one
-- more (max_attempts raised to attempts + 1). Its run_at becomes start_at, so it waits behind
-- the tasks already queued; its claim count (not kept in the history) restarts at its
-- attempts. A task whose unique key a live task of its queue holds stays where it is (of
-- several with one key, the lowest id moves). Wakes the workers or schedulers that wait for
-- them. Returns how many moved. The callers lock the rows (FOR UPDATE) and check start_at.
CREATE FUNCTION pgtq.requeue_finished(ids bigint[], start_at timestamptz) RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  moved          bigint[];
  wake           text[];
  earliest_later timestamptz;
BEGIN
  IF start_at IS NULL OR NOT isfinite(start_at) THEN
    RAISE EXCEPTION 'pgtq.requeue_finished: start_at must be a finite time, got %', start_at
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  -- Copied first, then deleted: ON CONFLICT skips a task whose key is taken (by a live task,
  -- or one copied before it), and only what was copied leaves the history.
  WITH back AS (
    INSERT INTO pgtq.live_tasks AS l (id, queue, task, args, state, priority, run_at, attempts,
                                      max_attempts, claims, created_at, started_at, last_error,
                                      errors, timeout, unique_key, fairness_key, tags, metadata,
                                      depends_on, on_parent_failure, progress)
    SELECT f.id, f.queue, f.task, f.args,
           CASE WHEN start_at <= now() THEN 'queued' ELSE 'scheduled' END::pgtq.task_state,
           f.priority, start_at, f.attempts,
           greatest(f.max_attempts, least(f.attempts, 2147483646) + 1), f.attempts, f.created_at,
           f.started_at, f.last_error, f.errors, f.timeout, f.unique_key, f.fairness_key, f.tags,
           f.metadata, f.depends_on, f.on_parent_failure, f.progress
      FROM pgtq.finished_tasks f
     WHERE f.id = ANY (ids) AND f.state IN ('failed', 'cancelled')
     ORDER BY f.id
    ON CONFLICT DO NOTHING
    RETURNING l.id, l.queue, l.state, l.run_at
  )
  SELECT array_agg(b.id), array_agg(DISTINCT b.queue) FILTER (WHERE b.state = 'queued'),
         min(b.run_at) FILTER (WHERE b.state = 'scheduled')
    INTO moved, wake, earliest_later FROM back b;
  DELETE FROM pgtq.finished_tasks f WHERE f.id = ANY (moved);
  PERFORM pgtq.wake_queue(q) FROM unnest(wake) AS q WHERE octet_length(q) < 7900;
  IF earliest_later IS NOT NULL THEN
    PERFORM pgtq.wake_schedulers(earliest_later);
  END IF;
  RETURN coalesce(cardinality(moved), 0);
END $$;

-- Retries a failed or cancelled task: queued again (at run_at, default now()), keeping its
-- id, args, attempts and errors; one with no attempts left gets one more. Returns false when
-- the task is unknown or not failed or cancelled (a concurrent retry of it waits, then
-- finds it queued), or when a live task of its queue holds its unique key.
CREATE FUNCTION pgtq.retry(id bigint, run_at timestamptz DEFAULT NULL) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF retry.id IS NULL THEN
    RAISE EXCEPTION 'pgtq.retry: id must not be NULL' USING ERRCODE = 'null_value_not_allowed';
  END IF;
  RETURN pgtq.requeue_finished(
           ARRAY(SELECT f.id FROM pgtq.finished_tasks f WHERE f.id = retry.id FOR UPDATE),
           pgtq.start_time('pgtq.retry: ', retry.run_at, NULL)) > 0;
END $$;
COMMENT ON FUNCTION pgtq.retry(bigint, timestamptz) IS
'Retries a failed or cancelled task: queued again at run_at (default now(), within 100 years), keeping its id, args, attempts and errors (the last 100); with no attempts left it gets one more. False: unknown, not failed or cancelled, or its unique key is held by a live task of its queue. Errors: 22004 NULL id, 22023 bad run_at.';

-- Retries the finished tasks that match (at most max_count, oldest id first): queue and task
-- names, error_contains (a substring of last_error, case-sensitive), finished in
-- [finished_after, finished_before), states (failed, cancelled; default failed), and no live
-- task of its queue holding its unique key. Each as pgtq.retry. Returns how many were retried
-- (with dry_run: how many would be). The dry run's filter is written again for the real call
-- on purpose: on the row that FOR UPDATE locks, it is checked again on the row's newest
-- version after a wait; in a function of its own (which a pinned search_path keeps from being
-- inlined) it would not be.
CREATE FUNCTION pgtq.retry_all(queue text DEFAULT NULL, task text DEFAULT NULL,
                               error_contains text DEFAULT NULL,
                               finished_after timestamptz DEFAULT NULL,
                               finished_before timestamptz DEFAULT NULL,
                               states pgtq.task_state[] DEFAULT '{failed}',
                               max_count integer DEFAULT 10000,
                               dry_run boolean DEFAULT false)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  ids bigint[];
BEGIN
  PERFORM pgtq.check_filter('pgtq.retry_all: ', retry_all.queue, retry_all.task,
                            error_contains, retry_all.states, '{failed,cancelled}', max_count,
                            dry_run);
  IF dry_run THEN
    -- Of several with one unique key, one is retried.
    RETURN (SELECT count(*) FILTER (WHERE f.unique_key IS NULL)
                   + count(DISTINCT CASE WHEN f.unique_key IS NOT NULL
                                         THEN jsonb_build_array(f.queue, f.unique_key) END)
              FROM pgtq.finished_tasks f
             WHERE f.state = ANY (retry_all.states)
               AND (retry_all.queue IS NULL OR f.queue = retry_all.queue)
               AND (retry_all.task IS NULL OR f.task = retry_all.task)
               AND (error_contains IS NULL OR strpos(f.last_error, error_contains) > 0)
               AND (finished_after IS NULL OR f.finished_at >= finished_after)
               AND (finished_before IS NULL OR f.finished_at < finished_before)
               AND (f.unique_key IS NULL
                    OR NOT EXISTS (SELECT 1 FROM pgtq.live_tasks l
                                    WHERE l.queue = f.queue AND l.unique_key = f.unique_key)));
  END IF;
  ids := ARRAY(SELECT f.id FROM pgtq.finished_tasks f
                WHERE f.state = ANY (retry_all.states)
                  AND (retry_all.queue IS NULL OR f.queue = retry_all.queue)
                  AND (retry_all.task IS NULL OR f.task = retry_all.task)
                  AND (error_contains IS NULL OR strpos(f.last_error, error_contains) > 0)
                  AND (finished_after IS NULL OR f.finished_at >= finished_after)
                  AND (finished_before IS NULL OR f.finished_at < finished_before)
                  AND (f.unique_key IS NULL
                       OR NOT EXISTS (SELECT 1 FROM pgtq.live_tasks l
                                       WHERE l.queue = f.queue AND l.unique_key = f.unique_key))
                ORDER BY f.id LIMIT max_count FOR UPDATE);
  RETURN pgtq.requeue_finished(ids, now());
END $$;
COMMENT ON FUNCTION pgtq.retry_all(text, text, text, timestamptz, timestamptz, pgtq.task_state[], integer, boolean) IS
'Retries finished tasks that match, as pgtq.retry, at most max_count (1..100000, default 10000; oldest id first). Filters (NULL: any): queue, task, error_contains (substring of last_error), finished_at in [finished_after, finished_before), states (failed and/or cancelled; default failed); a task whose unique key a live task holds is left. Returns how many were retried; dry_run: how many match (not capped by max_count), locking and changing nothing. Call again with the same finished_before for more. Errors: 22004 NULL states, max_count or dry_run, 22023 bad name, states, max_count or an empty error_contains.';

-- Cancels the live tasks that match (at most max_count, oldest id first): queue and task
-- names, created in [created_after, created_before), states (pending, queued, scheduled, running;
-- default queued and scheduled). Each as pgtq.cancel: a waiting task ends cancelled at once,
-- a running one is asked to stop. Returns how many (with dry_run: how many would be). The
-- filter is written twice on purpose, as in retry_all: a task claimed, promoted or renamed
-- while the call waited for its lock is checked again, and left when it no longer matches.
CREATE FUNCTION pgtq.cancel_all(queue text DEFAULT NULL, task text DEFAULT NULL,
                                created_after timestamptz DEFAULT NULL,
                                created_before timestamptz DEFAULT NULL,
                                states pgtq.task_state[] DEFAULT '{queued,scheduled}',
                                max_count integer DEFAULT 10000,
                                dry_run boolean DEFAULT false)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  ids       bigint[];
  cancelled bigint[];
  asked     bigint[];
BEGIN
  PERFORM pgtq.check_filter('pgtq.cancel_all: ', cancel_all.queue, cancel_all.task, NULL,
                            cancel_all.states, '{pending,queued,scheduled,running}', max_count,
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
     WHERE l.id = ANY (ids) AND l.state IN ('pending', 'queued', 'scheduled')
    RETURNING l AS task
  ), stored AS (
    INSERT INTO pgtq.finished_tasks
    SELECT (pgtq.finished_row(g.task, 'cancelled', NULL, (g.task).last_error, false)).*
      FROM gone g
    RETURNING id
  )
  SELECT array_agg(s.id) INTO cancelled FROM stored s;
  PERFORM pgtq.tasks_ended(cancelled);
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
'Cancels live tasks that match, as pgtq.cancel, at most max_count (1..100000, default 10000; oldest id first). Filters (NULL: any): queue, task, created_at in [created_after, created_before), states (pending, queued, scheduled and/or running; default queued and scheduled). Returns how many were cancelled or asked to stop; dry_run: how many match (not capped by max_count), locking and changing nothing. Errors: 22004 NULL states, max_count or dry_run, 22023 bad name, states, max_count or an empty error_contains.';

-- Deletes a task that is not running: a finished one from the history, a pending, queued or scheduled
-- one without running it. Returns false when the task is unknown. A running task is refused
-- (55000): cancel it, then delete it once it has ended.
CREATE FUNCTION pgtq.delete(id bigint) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
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
  PERFORM pgtq.tasks_ended(ARRAY[delete.id]);
  RETURN true;
END $$;
COMMENT ON FUNCTION pgtq.delete(bigint) IS
'Deletes a task that is not running (finished, pending, queued or scheduled), leaving no trace. False: unknown. Errors: 22004 NULL id, 55000 the task is running (cancel it first).';

-- The ids of the tasks delete_all deletes (not running): its filter, in one place for its dry
-- run and its call.
CREATE FUNCTION pgtq.delete_matches(queue text, task text, created_after timestamptz,
                                    created_before timestamptz, states pgtq.task_state[])
RETURNS SETOF bigint
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT t.id FROM pgtq.tasks t
   WHERE t.state = ANY (delete_matches.states) AND t.state <> 'running'
     AND (delete_matches.queue IS NULL OR t.queue = delete_matches.queue)
     AND (delete_matches.task IS NULL OR t.task = delete_matches.task)
     AND (delete_matches.created_after IS NULL OR t.created_at >= delete_matches.created_after)
     AND (delete_matches.created_before IS NULL
          OR t.created_at < delete_matches.created_before)
$$;

-- Deletes the tasks that match (at most max_count, oldest id first), leaving no trace: queue
-- and task names, created in [created_after, created_before), states (any of queued,
-- scheduled, succeeded, failed, cancelled; no default: say what to delete). Running tasks are
-- never deleted (cancel them first). Returns how many (with dry_run: how many would be).
CREATE FUNCTION pgtq.delete_all(states pgtq.task_state[], queue text DEFAULT NULL,
                                task text DEFAULT NULL,
                                created_after timestamptz DEFAULT NULL,
                                created_before timestamptz DEFAULT NULL,
                                max_count integer DEFAULT 10000,
                                dry_run boolean DEFAULT false)
RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  ids     bigint[];
  live    bigint[];
  history bigint;
BEGIN
  PERFORM pgtq.check_filter('pgtq.delete_all: ', delete_all.queue, delete_all.task, NULL,
                            delete_all.states, '{pending,queued,scheduled,succeeded,failed,cancelled}',
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
     WHERE l.id = ANY (ids) AND l.state IN ('pending', 'queued', 'scheduled')
       AND l.state = ANY (delete_all.states)
    RETURNING l.id
  )
  SELECT array_agg(g.id) INTO live FROM gone g;
  PERFORM pgtq.tasks_ended(live);
  DELETE FROM pgtq.finished_tasks f WHERE f.id = ANY (ids) AND f.state = ANY (delete_all.states);
  GET DIAGNOSTICS history = ROW_COUNT;
  RETURN coalesce(cardinality(live), 0) + history;
END $$;
COMMENT ON FUNCTION pgtq.delete_all(pgtq.task_state[], text, text, timestamptz, timestamptz, integer, boolean) IS
'Deletes tasks that match, leaving no trace, at most max_count (1..100000, default 10000; oldest id first): states (required: one or more of pending, queued, scheduled, succeeded, failed, cancelled; running tasks are never deleted), queue, task, created_at in [created_after, created_before) (NULL: any). Returns how many were deleted; dry_run: how many match (not capped), changing nothing. Call again for more. Errors: 22004 NULL states, max_count or dry_run, 22023 bad name, states or max_count.';

-- Changes a task that has not started, or that failed or was cancelled (say, to fix its args
-- before pgtq.retry): its args, priority, max_attempts and timeout, each with push's rules;
-- run_at only for a waiting (queued or scheduled) task, which becomes queued or scheduled by
-- it and wakes whoever waits for it, or a pending one, which stays pending until its parents end. NULL leaves a field as it is (a timeout cannot be taken
-- away). Returns false when the task is unknown. A running or succeeded task is refused
-- (55000), and so is run_at for a finished one (pgtq.retry takes its own run_at).
CREATE FUNCTION pgtq.update(id bigint, args jsonb DEFAULT NULL, priority integer DEFAULT NULL,
                            run_at timestamptz DEFAULT NULL, max_attempts integer DEFAULT NULL,
                            timeout interval DEFAULT NULL)
RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  found_state pgtq.task_state;
  found_task  text;
  found_queue text;
  live        boolean := true;
  start_at    timestamptz;
BEGIN
  IF update.id IS NULL THEN
    RAISE EXCEPTION 'pgtq.update: id must not be NULL' USING ERRCODE = 'null_value_not_allowed';
  END IF;
  SELECT l.state, l.task, l.queue INTO found_state, found_task, found_queue
    FROM pgtq.live_tasks l WHERE l.id = update.id FOR UPDATE;
  IF NOT FOUND THEN
    live := false;
    SELECT f.state, f.task INTO found_state, found_task
      FROM pgtq.finished_tasks f WHERE f.id = update.id FOR UPDATE;
    IF NOT FOUND THEN
      RETURN false;
    END IF;
  END IF;
  IF found_state IN ('running', 'succeeded') THEN
    RAISE EXCEPTION 'pgtq.update: task % is %: only a pending, queued, scheduled, failed or cancelled task can change',
      update.id, found_state USING ERRCODE = 'object_not_in_prerequisite_state';
  END IF;
  PERFORM pgtq.check_task(found_task, coalesce(update.args, '[]'), coalesce(update.priority, 0),
                          coalesce(update.max_attempts, 5));
  PERFORM pgtq.check_timeout('pgtq.update: timeout', update.timeout);
  IF update.run_at IS NOT NULL THEN
    IF NOT live THEN
      RAISE EXCEPTION 'pgtq.update: run_at applies to a pending, queued or scheduled task; task % is %: pgtq.retry(id, run_at) brings it back at a time',
        update.id, found_state USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    start_at := pgtq.start_time('pgtq.update: ', update.run_at, NULL);
  END IF;
  IF NOT live THEN
    UPDATE pgtq.finished_tasks f
       SET args = coalesce(update.args, f.args), priority = coalesce(update.priority, f.priority),
           max_attempts = coalesce(update.max_attempts, f.max_attempts),
           timeout = coalesce(update.timeout, f.timeout)
     WHERE f.id = update.id;
    RETURN true;
  END IF;
  UPDATE pgtq.live_tasks l
     SET args = coalesce(update.args, l.args), priority = coalesce(update.priority, l.priority),
         max_attempts = coalesce(update.max_attempts, l.max_attempts),
         timeout = coalesce(update.timeout, l.timeout),
         run_at = coalesce(start_at, l.run_at),
         state = CASE WHEN start_at IS NULL OR l.state = 'pending' THEN l.state
                      WHEN start_at <= now() THEN 'queued'
                      ELSE 'scheduled' END::pgtq.task_state
   WHERE l.id = update.id;
  IF start_at IS NOT NULL AND found_state <> 'pending' THEN
    IF start_at <= now() THEN
      PERFORM pgtq.wake_queue(found_queue);
    ELSE
      PERFORM pgtq.wake_schedulers(start_at);
    END IF;
  END IF;
  RETURN true;
END $$;
COMMENT ON FUNCTION pgtq.update(bigint, jsonb, integer, timestamptz, integer, interval) IS
'Changes a pending, queued, scheduled, failed or cancelled task: args, priority, max_attempts, timeout (push''s rules), and run_at of a live one (a queued or scheduled one becomes queued or scheduled by it; a pending one stays pending). NULL: unchanged. False: unknown. Errors: 22004 NULL id, 22023 bad value, 54000 args too large or deep, 55000 the task is running or succeeded, or run_at for a finished task.';
