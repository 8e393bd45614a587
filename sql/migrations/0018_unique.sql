-- Unique tasks: pgtq.push and pgtq.push_many take a unique key (with unique_states,
-- unique_period and on_conflict); the database keeps two live tasks of a queue from sharing
-- one (the unique index live_tasks_unique). The history keeps each task's key, so a push can
-- count finished tasks too, and pgtq.retry leaves a task whose key a live task holds.
-- push and push_many (arrays) gain arguments: the old forms are dropped, or calls that give
-- only the old arguments would match both.

ALTER TABLE pgtq.live_tasks ADD COLUMN unique_key text;
CREATE UNIQUE INDEX live_tasks_unique ON pgtq.live_tasks (queue, unique_key)
  WHERE unique_key IS NOT NULL;
COMMENT ON COLUMN pgtq.live_tasks.unique_key IS
  'The task''s unique key (push''s unique_key): no two live tasks of a queue share one.';
ALTER TABLE pgtq.finished_tasks ADD COLUMN unique_key text;
CREATE INDEX finished_tasks_unique ON pgtq.finished_tasks (queue, unique_key, finished_at)
  WHERE unique_key IS NOT NULL;

CREATE OR REPLACE VIEW pgtq.tasks AS
  SELECT id, queue, task, args, state, priority, run_at, attempts, max_attempts,
         created_at, started_at, NULL::timestamptz AS finished_at, locked_by, locked_until,
         NULL::jsonb AS result, last_error, errors, timeout, unique_key
    FROM pgtq.live_tasks
  UNION ALL
  SELECT id, queue, task, args, state, priority, run_at, attempts, max_attempts,
         created_at, started_at, finished_at, locked_by, NULL::timestamptz AS locked_until,
         result, last_error, errors, timeout, unique_key
    FROM pgtq.finished_tasks;

CREATE OR REPLACE FUNCTION pgtq.finished_row(ended pgtq.live_tasks, state pgtq.task_state, result jsonb,
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
           (ended).timeout, (ended).unique_key)::pgtq.finished_tasks;

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

CREATE OR REPLACE FUNCTION pgtq.requeue_finished(ids bigint[], start_at timestamptz) RETURNS bigint
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
                                      errors, timeout, unique_key)
    SELECT f.id, f.queue, f.task, f.args,
           CASE WHEN start_at <= now() THEN 'queued' ELSE 'scheduled' END::pgtq.task_state,
           f.priority, start_at, f.attempts,
           greatest(f.max_attempts, least(f.attempts, 2147483646) + 1), f.attempts, f.created_at,
           f.started_at, f.last_error, f.errors, f.timeout, f.unique_key
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

COMMENT ON FUNCTION pgtq.retry(bigint, timestamptz) IS
'Retries a failed or cancelled task: queued again at run_at (default now(), within 100 years), keeping its id, args, attempts and errors (the last 100); with no attempts left it gets one more. False: unknown, not failed or cancelled, or its unique key is held by a live task of its queue. Errors: 22004 NULL id, 22023 bad run_at.';

CREATE OR REPLACE FUNCTION pgtq.retry_all(queue text DEFAULT NULL, task text DEFAULT NULL,
                               error_contains text DEFAULT NULL,
                               finished_after timestamptz DEFAULT NULL,
                               finished_before timestamptz DEFAULT NULL,
                               states pgtq.task_state[] DEFAULT '{failed}',
                               max_count integer DEFAULT 10000,
                               dry_run boolean DEFAULT false)
RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
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

DROP FUNCTION pgtq.push(text, text, jsonb, timestamptz, interval, integer, integer, interval);
CREATE FUNCTION pgtq.push(
  queue         text,
  task          text,
  args          jsonb DEFAULT '[]',
  run_at        timestamptz DEFAULT NULL,
  delay         interval DEFAULT NULL,
  priority      integer DEFAULT 0,
  max_attempts  integer DEFAULT 5,
  timeout       interval DEFAULT NULL,
  unique_key    text DEFAULT NULL,
  unique_states pgtq.task_state[] DEFAULT NULL,
  unique_period interval DEFAULT NULL,
  on_conflict   text DEFAULT 'ignore'
) RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  start_at timestamptz;
  due      boolean;
  new_id   bigint;
  waiting  boolean; -- a worker (due) or scheduler (delayed) waits to be woken
  states   pgtq.task_state[];
BEGIN
  -- Every rule as one expression, evaluated without a query; only a push that breaks one
  -- pays for the plpgsql checks that say which (each PERFORM is a query of its own).
  IF NOT coalesce(push.queue ~ '^[A-Za-z0-9_.:-]+$' AND length(push.queue) <= 128
                  AND push.task ~ '^[A-Za-z0-9_.:-]+$' AND length(push.task) <= 128
                  AND jsonb_typeof(push.args) IN ('array', 'object')
                  AND octet_length(push.args::text) <= 1048576
                  AND (pg_column_size(push.args) < 800 AND pg_column_compression(push.args) IS NULL
                       OR NOT pgtq.too_deep(push.args))
                  AND push.priority BETWEEN -32768 AND 32767
                  AND push.max_attempts BETWEEN 1 AND 1000
                  AND (push.run_at IS NULL
                       OR isfinite(push.run_at)
                          AND push.run_at BETWEEN now() - interval '100 years'
                                              AND now() + interval '100 years')
                  AND (push.delay IS NULL OR pgtq.delay_ok(push.delay))
                  AND (push.timeout IS NULL OR pgtq.timeout_ok(push.timeout)), false) THEN
    PERFORM pgtq.check_name('queue', push.queue);
    PERFORM pgtq.check_task(push.task, push.args, push.priority, push.max_attempts);
    PERFORM pgtq.start_time('pgtq.push: ', push.run_at, push.delay);
    PERFORM pgtq.check_timeout('pgtq.push: timeout', push.timeout);
  END IF;
  start_at := coalesce(push.run_at, now()) + coalesce(push.delay, interval '0');
  IF start_at > now() + interval '100 years' THEN
    PERFORM pgtq.start_time('pgtq.push: ', push.run_at, push.delay);
  END IF;
  due := start_at <= now();
  IF push.unique_key IS NOT NULL OR push.unique_states IS NOT NULL
     OR push.unique_period IS NOT NULL OR push.on_conflict IS DISTINCT FROM 'ignore' THEN
    states := pgtq.check_unique('pgtq.push: ', push.unique_key, push.unique_states,
                                push.unique_period, push.on_conflict);
    SELECT u.id, u.written INTO new_id, waiting
      FROM pgtq.insert_unique('pgtq.push: ', push.queue, push.task, push.args, start_at,
                              push.priority, push.max_attempts, push.timeout, push.unique_key,
                              states, push.unique_period, push.on_conflict) AS u;
    IF waiting AND due THEN
      PERFORM pgtq.wake_queue(push.queue);
    ELSIF waiting THEN
      PERFORM pgtq.wake_schedulers(start_at);
    END IF;
    RETURN new_id;
  END IF;
  -- What wake_queue or wake_schedulers would do (09_wake_ups.sql), inline: the push lock
  -- first (an assignment, evaluated without a query), then the insert, whose snapshot is
  -- newer than the lock, looks for a worker or scheduler to wake.
  waiting := pg_advisory_xact_lock_shared(1885828209, CASE WHEN due THEN hashtext(push.queue) & 63
                                                         ELSE 64 END) IS NULL;
  INSERT INTO pgtq.live_tasks AS l (queue, task, args, state, priority, run_at, max_attempts,
                                    timeout)
  VALUES (push.queue, push.task, push.args,
          CASE WHEN due THEN 'queued' ELSE 'scheduled' END::pgtq.task_state,
          push.priority, start_at, push.max_attempts, push.timeout)
  RETURNING l.id,
            CASE WHEN due
                 THEN EXISTS (SELECT 1 FROM pgtq.idle_workers w WHERE w.queue = push.queue)
                 ELSE EXISTS (SELECT 1 FROM pgtq.waiting_schedulers s WHERE s.wakes_at > start_at)
            END
  INTO new_id, waiting;
  IF waiting OR current_setting('transaction_isolation') <> 'read committed' THEN
    IF due THEN
      PERFORM pg_notify('pgtq_wakeup', push.queue);
    ELSE
      PERFORM pg_notify('pgtq_scheduled', '');
    END IF;
  END IF;
  RETURN new_id;
END $$;
COMMENT ON FUNCTION pgtq.push(text, text, jsonb, timestamptz, interval, integer, integer, interval, text, pgtq.task_state[], interval, text) IS
'Pushes one task; returns its id. queue, task: 1..128 characters of [A-Za-z0-9_.:-]. args: JSON array or object, <= 1 MiB as text, nested <= 100 deep. run_at (default now()) + delay: within 100 years of now(); delay 0..100 years. priority -32768..32767 (smaller first), max_attempts 1..1000. timeout: how long each attempt may run, more than 0 and at most 365 days (NULL: the task name''s, else pgtqd''s task-timeout). unique_key (1..1024 bytes): no other task of the queue with this key may count, that is be live, or be in a finished state of unique_states (which must include queued, scheduled and running; default those, plus succeeded when unique_period is given) and have ended within unique_period (more than 0, at most 100 years; NULL: ever; a live holder is answered before a finished one). on_conflict when one counts: ignore (return its id), replace (a queued or scheduled one takes this push''s task name, args, priority, run_at, max_attempts and timeout; its id is returned), raise. Errors: 22004 NULL, 22023 bad value, 23505 unique key held (raise), 54000 args too large or deep.';

DROP FUNCTION pgtq.push_many(text, text[], jsonb[], integer[], integer[], timestamptz[], interval[], interval[]);
CREATE FUNCTION pgtq.push_many(queue text, tasks text[], args jsonb[],
                               priorities integer[] DEFAULT NULL,
                               max_attempts integer[] DEFAULT NULL,
                               run_at timestamptz[] DEFAULT NULL,
                               delays interval[] DEFAULT NULL,
                               timeouts interval[] DEFAULT NULL,
                               unique_keys text[] DEFAULT NULL,
                               unique_states pgtq.task_state[] DEFAULT NULL,
                               unique_period interval DEFAULT NULL,
                               on_conflict text DEFAULT 'ignore')
RETURNS SETOF bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  given     integer := cardinality(push_many.tasks);
  ids       bigint[];
  any_due        boolean;
  earliest_later timestamptz; -- the earliest run_at of the delayed tasks
  i         integer;
BEGIN
  IF unique_keys IS NOT NULL OR unique_states IS NOT NULL OR unique_period IS NOT NULL
     OR on_conflict IS DISTINCT FROM 'ignore' THEN
    -- Unique tasks go one at a time through pgtq.push, after every element is checked.
    -- The options once, whether or not an element has a key (a placeholder key when one
    -- is given), then each element's key below.
    PERFORM pgtq.check_unique('pgtq.push_many: ',
                              CASE WHEN unique_keys IS NOT NULL THEN 'k' END, unique_states,
                              unique_period, on_conflict);
    IF coalesce(array_ndims(unique_keys), 1) <> 1 OR cardinality(unique_keys) <> given THEN
      RAISE EXCEPTION 'pgtq.push_many: unique_keys must be a one-dimensional array as long as '
        'tasks (%), got % elements', given, cardinality(unique_keys)
        USING ERRCODE = 'invalid_parameter_value';
    END IF;
    PERFORM pgtq.push_many_arrays_error(push_many.queue, push_many.tasks, push_many.args,
                                        priorities, push_many.max_attempts, push_many.run_at,
                                        delays, timeouts);
    FOR i IN 1 .. given LOOP
      IF unique_keys[i] IS NOT NULL THEN
        PERFORM pgtq.check_unique('pgtq.push_many: unique_keys[' || i || ']: ', unique_keys[i],
                                  unique_states, unique_period, on_conflict);
      END IF;
    END LOOP;
    -- Keys are taken in one order (of their hashes) before any is inserted: two calls with
    -- the same keys in other orders would otherwise each insert one and wait for the other's.
    PERFORM pg_advisory_xact_lock(1885828211, h)
       FROM (SELECT DISTINCT hashtext(push_many.queue || '/' || k) AS h
               FROM unnest(unique_keys) AS k WHERE k IS NOT NULL ORDER BY 1) AS keys;
    FOR i IN 1 .. given LOOP
      ids := ids || pgtq.push(push_many.queue, push_many.tasks[i],
                              coalesce(push_many.args[i], '[]'), push_many.run_at[i], delays[i],
                              coalesce(priorities[i], 0), coalesce(push_many.max_attempts[i], 5),
                              timeouts[i], unique_keys[i],
                              CASE WHEN unique_keys[i] IS NOT NULL THEN unique_states END,
                              CASE WHEN unique_keys[i] IS NOT NULL THEN unique_period END,
                              CASE WHEN unique_keys[i] IS NOT NULL THEN on_conflict
                                   ELSE 'ignore' END);
    END LOOP;
    RETURN QUERY SELECT unnest(ids);
    RETURN;
  END IF;
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
                       AND coalesce(array_ndims(delays), 1) = 1)
                  AND (timeouts IS NULL OR cardinality(timeouts) = given
                       AND coalesce(array_ndims(timeouts), 1) = 1), false) THEN
    PERFORM pgtq.push_many_arrays_error(push_many.queue, push_many.tasks, push_many.args, priorities,
                                        push_many.max_attempts, push_many.run_at, delays,
                                        timeouts);
  END IF;

  WITH spec AS (
    SELECT s.ord, s.task, coalesce(s.args, '[]'::jsonb) AS args, s.priority, s.max_attempts,
           s.run_at, s.delay, s.timeout
      FROM unnest(push_many.tasks, push_many.args, coalesce(priorities, '{}'), coalesce(push_many.max_attempts, '{}'),
                  coalesce(push_many.run_at, '{}'), coalesce(delays, '{}'), coalesce(timeouts, '{}'))
           WITH ORDINALITY AS s(task, args, priority, max_attempts, run_at, delay, timeout, ord)
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
                 AND (s.timeout IS NULL OR pgtq.timeout_ok(s.timeout))
                THEN true
                ELSE pgtq.push_many_arrays_error(push_many.queue, push_many.tasks, push_many.args, priorities,
                                                 push_many.max_attempts, push_many.run_at,
                                                 delays, timeouts) END
  ), inserted AS (
    INSERT INTO pgtq.live_tasks AS l (queue, task, args, state, priority, run_at, max_attempts,
                                      timeout)
    SELECT push_many.queue, c.task, c.args,
           CASE WHEN coalesce(c.run_at, now()) + coalesce(c.delay, interval '0') <= now()
                THEN 'queued' ELSE 'scheduled' END::pgtq.task_state,
           coalesce(c.priority, 0),
           coalesce(c.run_at, now()) + coalesce(c.delay, interval '0'),
           coalesce(c.max_attempts, 5), c.timeout
      FROM checked c ORDER BY c.ord
    RETURNING l.id, l.state, l.run_at
  )
  SELECT array_agg(i.id ORDER BY i.id), bool_or(i.state = 'queued'),
         min(i.run_at) FILTER (WHERE i.state = 'scheduled')
    INTO ids, any_due, earliest_later FROM inserted i;
  IF any_due THEN
    PERFORM pgtq.wake_queue(push_many.queue);
  END IF;
  IF earliest_later IS NOT NULL THEN
    PERFORM pgtq.wake_schedulers(earliest_later);
  END IF;
  RETURN QUERY SELECT unnest(ids);
END $$;
COMMENT ON FUNCTION pgtq.push_many(text, text[], jsonb[], integer[], integer[], timestamptz[], interval[], interval[], text[], pgtq.task_state[], interval, text) IS
'Pushes tasks[i] with args[i] (NULL: []; a JSON array or object, <= 1 MiB as text, <= 100 deep) and optional priorities[i] (-32768..32767, NULL: 0), max_attempts[i] (1..1000, NULL: 5), run_at[i] and delays[i] (the start within 100 years of now; NULL: none), timeouts[i] (more than 0, at most 365 days; NULL: none), unique_keys[i] (as pgtq.push''s unique_key; NULL: none); every given array as long as tasks, at most 100000. unique_states, unique_period and on_conflict: as pgtq.push, for every task with a key; such calls push one task at a time. Returns the ids in order (of a task whose key was held: the holder''s); at most one NOTIFY. All or nothing. Errors: 22004 NULL tasks, args or task name, 22023 bad value or lengths, 23505 unique key held (raise), 54000 over a limit.';

CREATE FUNCTION pgtq.check_unique(what text, unique_key text, unique_states pgtq.task_state[],
                                  unique_period interval, on_conflict text)
RETURNS pgtq.task_state[]
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF on_conflict IS NULL THEN
    RAISE EXCEPTION '%on_conflict must not be NULL (ignore, replace or raise)', what
      USING ERRCODE = 'null_value_not_allowed';
  END IF;
  IF on_conflict NOT IN ('ignore', 'replace', 'raise') THEN
    RAISE EXCEPTION '%on_conflict must be ignore, replace or raise, got "%"', what, on_conflict
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF unique_key IS NULL THEN
    IF unique_states IS NOT NULL OR unique_period IS NOT NULL OR on_conflict <> 'ignore' THEN
      RAISE EXCEPTION '%unique_states, unique_period and on_conflict need a unique_key', what
        USING ERRCODE = 'invalid_parameter_value';
    END IF;
    RETURN NULL;
  END IF;
  IF unique_key = '' OR octet_length(unique_key) > 1024 THEN
    RAISE EXCEPTION '%unique_key must be 1..1024 bytes long, got %', what,
      octet_length(unique_key) USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF unique_states IS NOT NULL THEN
    IF coalesce(array_ndims(unique_states), 1) <> 1 THEN
      RAISE EXCEPTION '%unique_states must be a one-dimensional array', what
        USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF array_position(unique_states, NULL) IS NOT NULL THEN
      RAISE EXCEPTION '%unique_states must not hold NULL', what
        USING ERRCODE = 'null_value_not_allowed';
    END IF;
    -- A subset of the live states would let a state change (a promotion, a claim, a retry)
    -- meet another task's key, and fail there instead of at the push.
    IF NOT unique_states @> '{queued,scheduled,running}' THEN
      RAISE EXCEPTION '%unique_states must include queued, scheduled and running (every live '
        'task counts), got %', what, unique_states USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF unique_period IS NOT NULL
       AND NOT unique_states && '{succeeded,failed,cancelled}' THEN
      RAISE EXCEPTION '%unique_period applies to finished states, and unique_states names none',
        what USING ERRCODE = 'invalid_parameter_value';
    END IF;
  END IF;
  IF unique_period IS NOT NULL AND NOT (unique_period > interval '0'
                                        AND unique_period <= interval '100 years') THEN
    RAISE EXCEPTION '%unique_period must be more than 0 and at most 100 years, got %', what,
      unique_period USING ERRCODE = 'invalid_parameter_value';
  END IF;
  RETURN coalesce(unique_states,
                  CASE WHEN unique_period IS NULL THEN '{queued,scheduled,running}'
                       ELSE '{queued,scheduled,running,succeeded}' END::pgtq.task_state[]);
END $$;

CREATE FUNCTION pgtq.finished_holder(queue text, unique_key text, states pgtq.task_state[],
                                     period interval)
RETURNS bigint
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT f.id FROM pgtq.finished_tasks f
   WHERE f.queue = finished_holder.queue AND f.unique_key = finished_holder.unique_key
     AND f.unique_key IS NOT NULL AND f.state = ANY (states)
     AND (period IS NULL OR f.finished_at > now() - period)
   ORDER BY f.finished_at DESC LIMIT 1
$$;

CREATE FUNCTION pgtq.insert_unique(what text, queue text, task text, args jsonb,
                                   start_at timestamptz, priority integer, max_attempts integer,
                                   timeout interval, unique_key text,
                                   states pgtq.task_state[], period interval, on_conflict text,
                                   OUT id bigint, OUT written boolean)
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
-- ON CONFLICT's column list cannot be qualified, and the arguments share the columns' names.
#variable_conflict use_column
DECLARE
  finished_states pgtq.task_state[] := ARRAY(SELECT s FROM unnest(states) AS s
                                              WHERE s IN ('succeeded', 'failed', 'cancelled'));
  holder       bigint;
  holder_state pgtq.task_state;
  inserted     boolean;
BEGIN
  -- A holder can end between the insert that met it and the look that follows: then the key
  -- is free and the push tries again (three rounds; a fourth would need three such ends).
  FOR round IN 1 .. 3 LOOP
    IF cardinality(finished_states) > 0 THEN
      holder := pgtq.finished_holder(queue, unique_key, finished_states, period);
      -- A live holder comes first (replace rewrites it): the insert below meets it.
      EXIT WHEN holder IS NOT NULL
                AND NOT EXISTS (SELECT 1 FROM pgtq.live_tasks l
                                 WHERE l.queue = insert_unique.queue
                                   AND l.unique_key = insert_unique.unique_key);
    END IF;
    -- Two statements, not one DO UPDATE whose WHERE is false for ignore and raise: DO UPDATE
    -- locks the holder's row first, so an ignored push would wait for a claim or a heartbeat
    -- that holds it.
    IF on_conflict = 'replace' THEN
      INSERT INTO pgtq.live_tasks AS l (queue, task, args, state, priority, run_at, max_attempts,
                                        timeout, unique_key)
      VALUES (insert_unique.queue, insert_unique.task, insert_unique.args,
              CASE WHEN start_at <= now() THEN 'queued' ELSE 'scheduled' END::pgtq.task_state,
              insert_unique.priority, start_at, insert_unique.max_attempts,
              insert_unique.timeout, insert_unique.unique_key)
      ON CONFLICT (queue, unique_key) WHERE unique_key IS NOT NULL DO UPDATE
        SET task = excluded.task, args = excluded.args, state = excluded.state,
            priority = excluded.priority, run_at = excluded.run_at,
            max_attempts = excluded.max_attempts, timeout = excluded.timeout
        WHERE l.state IN ('queued', 'scheduled')
      RETURNING l.id, l.xmax = 0 INTO id, inserted;
    ELSE
      INSERT INTO pgtq.live_tasks AS l (queue, task, args, state, priority, run_at, max_attempts,
                                        timeout, unique_key)
      VALUES (insert_unique.queue, insert_unique.task, insert_unique.args,
              CASE WHEN start_at <= now() THEN 'queued' ELSE 'scheduled' END::pgtq.task_state,
              insert_unique.priority, start_at, insert_unique.max_attempts,
              insert_unique.timeout, insert_unique.unique_key)
      ON CONFLICT (queue, unique_key) WHERE unique_key IS NOT NULL DO NOTHING
      RETURNING l.id, true INTO id, inserted;
    END IF;
    IF id IS NOT NULL THEN
      IF inserted AND cardinality(finished_states) > 0 THEN
        -- The look after the insert (see the top of this file).
        holder := pgtq.finished_holder(queue, unique_key, finished_states, period);
        IF holder IS NOT NULL THEN
          DELETE FROM pgtq.live_tasks l WHERE l.id = insert_unique.id;
          EXIT;
        END IF;
      END IF;
      written := true;
      RETURN;
    END IF;
    SELECT l.id, l.state INTO holder, holder_state FROM pgtq.live_tasks l
     WHERE l.queue = insert_unique.queue AND l.unique_key = insert_unique.unique_key;
    EXIT WHEN FOUND;
  END LOOP;
  IF holder IS NULL THEN
    RAISE EXCEPTION '%the task holding unique key "%" of queue "%" ended three times while '
      'this push looked for it; try again', what, unique_key, queue
      USING ERRCODE = 'serialization_failure';
  END IF;
  IF on_conflict = 'raise' THEN
    RAISE EXCEPTION '%queue "%" has a task with unique key "%": task %', what, queue,
      unique_key, holder USING ERRCODE = 'unique_violation',
      DETAIL = 'The task that holds the key is ' || coalesce(holder_state::text, 'finished') || '.';
  END IF;
  id := holder;
  written := false;
END $$;
