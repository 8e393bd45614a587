-- Delayed pushes notify the schedulers only when one sleeps past the task; a push costs one
-- statement fewer.
--
-- 0013 stopped due pushes from taking PostgreSQL's instance-wide notify lock on a busy
-- queue, but every delayed push (and every retry scheduled later) still sent NOTIFY
-- pgtq_scheduled, so pushing delayed tasks from many clients committed one at a time as
-- before. Schedulers now register until when they sleep (pgtq.scheduler_waiting, in
-- pgtq.waiting_schedulers), and a delayed push notifies only when its task is due before a
-- registered scheduler wakes; one due later is found by that scheduler's next tick anyway.
-- No wake-up is lost, for the reason 0013 gave: delayed pushes take a push lock of their own
-- (pgtq's class, bucket 64) in shared mode before they look, and a scheduler waits until the
-- holders it saw after registering have ended (pgtq.delayed_pushes_in_flight) before it reads
-- the next due time once more (pgtq.next_due). push_many and finish_many's delayed retries go
-- through pgtq.wake_schedulers.
--
-- pgtq.push does the lock and the look-up inline: the lock as an assignment (no query), the
-- look-up in the RETURNING of its insert (no statement of its own), instead of a nested call
-- of wake_queue, whose pinned search_path costs as much as its work.
--
-- A pgtqd older than this one never registers its scheduler: delayed pushes stop waking it,
-- and it finds them at its next tick (scheduler-interval) until it is upgraded.

CREATE TABLE pgtq.waiting_schedulers (
  pid       integer PRIMARY KEY,
  scheduler text NOT NULL,
  wakes_at  timestamptz NOT NULL,
  since     timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE pgtq.waiting_schedulers IS
  'Schedulers asleep until wakes_at; a delayed push notifies pgtq_scheduled only when its task is due before one wakes.';


CREATE FUNCTION pgtq.wake_schedulers(earliest timestamptz) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  PERFORM pg_advisory_xact_lock_shared(1885828209, 64);
  IF current_setting('transaction_isolation') <> 'read committed'
     OR EXISTS (SELECT 1 FROM pgtq.waiting_schedulers s
                 WHERE s.wakes_at > coalesce(wake_schedulers.earliest, '-infinity')) THEN
    PERFORM pg_notify('pgtq_scheduled', '');
  END IF;
END $$;
COMMENT ON FUNCTION pgtq.wake_schedulers(timestamptz) IS
'Wakes the schedulers that sleep past earliest (NOTIFY pgtq_scheduled at commit), if any: what push, push_many and finish_many do for delayed tasks. earliest: the earliest run_at written (NULL: wake every registered scheduler). Outside READ COMMITTED it always notifies. Call it after writing scheduled tasks into live_tasks by hand.';


CREATE FUNCTION pgtq.scheduler_waiting(scheduler text, wakes_in interval) RETURNS boolean
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  inserted boolean;
BEGIN
  IF scheduler IS NULL OR length(scheduler) NOT BETWEEN 1 AND 1024 THEN
    RAISE EXCEPTION 'pgtq.scheduler_waiting: scheduler must be 1 to 1024 characters long'
      USING ERRCODE = CASE WHEN scheduler IS NULL THEN 'null_value_not_allowed'
                           ELSE 'invalid_parameter_value' END;
  END IF;
  IF wakes_in IS NULL THEN
    RAISE EXCEPTION 'pgtq.scheduler_waiting: wakes_in must not be NULL'
      USING ERRCODE = 'null_value_not_allowed';
  END IF;
  IF NOT isfinite(wakes_in) OR wakes_in < interval '0' OR wakes_in > interval '1 day' THEN
    RAISE EXCEPTION 'pgtq.scheduler_waiting: wakes_in must be between 0 and 1 day, got %', wakes_in
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  INSERT INTO pgtq.waiting_schedulers AS s (pid, scheduler, wakes_at)
  VALUES (pg_backend_pid(), scheduler, clock_timestamp() + wakes_in)
  ON CONFLICT ON CONSTRAINT waiting_schedulers_pkey
  DO UPDATE SET scheduler = excluded.scheduler, wakes_at = excluded.wakes_at
  RETURNING s.xmax = 0 INTO inserted;
  RETURN inserted;
END $$;
COMMENT ON FUNCTION pgtq.scheduler_waiting(text, interval) IS
'Registers this session (its backend pid) as a scheduler asleep until wakes_in (0..1 day) from now; delayed pushes of tasks due earlier notify pgtq_scheduled. scheduler: 1..1024 characters. Returns true when the session was not registered before. Errors: 22004 NULL, 22023 bad value.';


CREATE FUNCTION pgtq.delayed_pushes_in_flight(among text[] DEFAULT NULL) RETURNS text[]
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT coalesce((SELECT array_agg(DISTINCT l.virtualtransaction ORDER BY l.virtualtransaction)
                     FROM pg_locks l
                    WHERE l.locktype = 'advisory' AND l.granted
                      AND l.database = (SELECT d.oid FROM pg_database d
                                         WHERE d.datname = current_database())
                      AND l.classid = 1885828209::oid
                      AND l.objid = 64::oid
                      AND l.objsubid = 2
                      AND (among IS NULL OR l.virtualtransaction = ANY (among))), '{}');
$$;
COMMENT ON FUNCTION pgtq.delayed_pushes_in_flight(text[]) IS
'The transactions that hold the delayed pushes'' lock now (delayed pushes not yet committed), as pg_locks virtualtransaction ids; with among, only those of among. A scheduler waits until its list empties after registering.';


CREATE FUNCTION pgtq.next_due() RETURNS timestamptz
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT CASE WHEN d.due IS NOT NULL
              THEN least(greatest(d.due, clock_timestamp() - interval '100 years'),
                         clock_timestamp() + interval '100 years') END
    FROM (SELECT min(l.run_at) AS due FROM pgtq.live_tasks l WHERE l.state = 'scheduled') d;
$$;
COMMENT ON FUNCTION pgtq.next_due() IS
'The earliest run_at among scheduled tasks, kept within 100 years of now; NULL when there are none.';


CREATE OR REPLACE FUNCTION pgtq.push(
  queue        text,
  task         text,
  args         jsonb DEFAULT '[]',
  run_at       timestamptz DEFAULT NULL,
  delay        interval DEFAULT NULL,
  priority     integer DEFAULT 0,
  max_attempts integer DEFAULT 5,
  timeout      interval DEFAULT NULL
) RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  start_at timestamptz;
  due      boolean;
  new_id   bigint;
  waiting  boolean; -- a worker (due) or scheduler (delayed) waits to be woken
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
COMMENT ON FUNCTION pgtq.push(text, text, jsonb, timestamptz, interval, integer, integer, interval) IS
'Pushes one task; returns its id. queue, task: 1..128 characters of [A-Za-z0-9_.:-]. args: JSON array or object, <= 1 MiB as text, nested <= 100 deep. run_at (default now()) + delay: within 100 years of now(); delay 0..100 years. priority -32768..32767 (smaller first), max_attempts 1..1000. timeout: how long each attempt may run, more than 0 and at most 365 days (NULL: the task name''s, else pgtqd''s task-timeout). Errors: 22004 NULL, 22023 bad value, 54000 args too large or deep.';


CREATE OR REPLACE FUNCTION pgtq.push_many(queue text, tasks jsonb) RETURNS SETOF bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  ids       bigint[];
  any_due        boolean;
  earliest_later timestamptz; -- the earliest run_at of the delayed tasks
  bad_elem  record;
BEGIN
  PERFORM pgtq.check_name('queue', push_many.queue);
  IF tasks IS NULL THEN
    RAISE EXCEPTION 'pgtq.push_many: tasks must be a JSON array of task objects, not NULL'
      USING ERRCODE = 'null_value_not_allowed';
  END IF;
  IF jsonb_typeof(tasks) <> 'array' THEN
    RAISE EXCEPTION 'pgtq.push_many: tasks must be a JSON array of task objects, not %',
      jsonb_typeof(tasks) USING ERRCODE = 'invalid_parameter_value';
  END IF;
  -- run_at, delay and timeout are text to cast: a cast that fails names no element, so find it.
  IF tasks @? 'lax $[*] ? (exists(@.run_at) || exists(@.delay) || exists(@.timeout))' THEN
    BEGIN
      PERFORM count(CASE WHEN jsonb_typeof(x.elem->'run_at') = 'string'
                         THEN (x.elem->>'run_at')::timestamptz END)
              + count(CASE WHEN jsonb_typeof(x.elem->'delay') = 'string'
                           THEN (x.elem->>'delay')::interval END)
              + count(CASE WHEN jsonb_typeof(x.elem->'timeout') = 'string'
                           THEN (x.elem->>'timeout')::interval END)
         FROM jsonb_array_elements(tasks) AS x(elem)
        WHERE jsonb_typeof(x.elem) = 'object';
    EXCEPTION WHEN data_exception THEN
      FOR bad_elem IN SELECT x.elem, x.ord
                        FROM jsonb_array_elements(tasks) WITH ORDINALITY AS x(elem, ord)
                       WHERE jsonb_typeof(x.elem) = 'object' LOOP
        BEGIN
          PERFORM CASE WHEN jsonb_typeof(bad_elem.elem->'run_at') = 'string'
                       THEN (bad_elem.elem->>'run_at')::timestamptz END;
        EXCEPTION WHEN data_exception THEN
          RAISE EXCEPTION 'pgtq.push_many: element %: run_at: %', bad_elem.ord, SQLERRM
            USING ERRCODE = 'invalid_parameter_value';
        END;
        BEGIN
          PERFORM CASE WHEN jsonb_typeof(bad_elem.elem->'delay') = 'string'
                       THEN (bad_elem.elem->>'delay')::interval END;
        EXCEPTION WHEN data_exception THEN
          RAISE EXCEPTION 'pgtq.push_many: element %: delay: %', bad_elem.ord, SQLERRM
            USING ERRCODE = 'invalid_parameter_value';
        END;
        BEGIN
          PERFORM CASE WHEN jsonb_typeof(bad_elem.elem->'timeout') = 'string'
                       THEN (bad_elem.elem->>'timeout')::interval END;
        EXCEPTION WHEN data_exception THEN
          RAISE EXCEPTION 'pgtq.push_many: element %: timeout: %', bad_elem.ord, SQLERRM
            USING ERRCODE = 'invalid_parameter_value';
        END;
      END LOOP;
    END;
  END IF;

  WITH spec AS (
    SELECT e.ord, e.elem,
           e.elem->>'task' AS task,
           coalesce(e.elem->'args', '[]'::jsonb) AS args,
           e.elem->'priority' AS priority,
           e.elem->'max_attempts' AS max_attempts,
           CASE WHEN jsonb_typeof(e.elem->'run_at') = 'string'
                THEN (e.elem->>'run_at')::timestamptz END AS run_at,
           CASE WHEN jsonb_typeof(e.elem->'delay') = 'string'
                THEN (e.elem->>'delay')::interval END AS delay,
           CASE WHEN jsonb_typeof(e.elem->'timeout') = 'string'
                THEN (e.elem->>'timeout')::interval END AS timeout
      FROM jsonb_array_elements(tasks) WITH ORDINALITY AS e(elem, ord)
  ), checked AS (
    -- The rules of check_task and start_time as expressions; CASE keeps the order, so a cast
    -- below only sees a value that passed. The name pattern has no {1,128} bound (0006).
    SELECT s.* FROM spec s
     WHERE CASE WHEN jsonb_typeof(s.elem) = 'object'
                 AND s.elem - '{task,args,priority,max_attempts,run_at,delay,timeout}'::text[] = '{}'::jsonb
                 AND jsonb_typeof(s.elem->'task') = 'string'
                 AND s.task ~ '^[A-Za-z0-9_.:-]+$' AND length(s.task) <= 128
                 AND jsonb_typeof(s.args) IN ('array', 'object')
                 AND octet_length(s.args::text) <= 1048576
                 AND (pg_column_size(s.args) < 800 AND pg_column_compression(s.args) IS NULL
                      OR NOT pgtq.too_deep(s.args))
                 AND CASE coalesce(jsonb_typeof(s.priority), 'null')
                       WHEN 'null' THEN true
                       WHEN 'number' THEN s.priority::numeric BETWEEN -32768 AND 32767
                                          AND s.priority::numeric = trunc(s.priority::numeric)
                       ELSE false END
                 AND CASE coalesce(jsonb_typeof(s.max_attempts), 'null')
                       WHEN 'null' THEN true
                       WHEN 'number' THEN s.max_attempts::numeric BETWEEN 1 AND 1000
                                          AND s.max_attempts::numeric = trunc(s.max_attempts::numeric)
                       ELSE false END
                 AND coalesce(jsonb_typeof(s.elem->'run_at'), 'null') IN ('null', 'string')
                 AND coalesce(jsonb_typeof(s.elem->'delay'), 'null') IN ('null', 'string')
                 AND coalesce(jsonb_typeof(s.elem->'timeout'), 'null') IN ('null', 'string')
                 AND (s.run_at IS NULL OR (isfinite(s.run_at)
                        AND s.run_at BETWEEN now() - interval '100 years'
                                         AND now() + interval '100 years'))
                 AND (s.delay IS NULL OR pgtq.delay_ok(s.delay))
                 AND coalesce(s.run_at, now()) + coalesce(s.delay, interval '0')
                     <= now() + interval '100 years'
                 AND (s.timeout IS NULL OR pgtq.timeout_ok(s.timeout))
                THEN true
                ELSE pgtq.push_many_element_error(s.ord, s.elem) END
  ), inserted AS (
    INSERT INTO pgtq.live_tasks AS l (queue, task, args, state, priority, run_at, max_attempts,
                                      timeout)
    SELECT push_many.queue, c.task, c.args,
           CASE WHEN coalesce(c.run_at, now()) + coalesce(c.delay, interval '0') <= now()
                THEN 'queued' ELSE 'scheduled' END::pgtq.task_state,
           CASE WHEN jsonb_typeof(c.priority) = 'number' THEN c.priority::integer ELSE 0 END,
           coalesce(c.run_at, now()) + coalesce(c.delay, interval '0'),
           CASE WHEN jsonb_typeof(c.max_attempts) = 'number' THEN c.max_attempts::integer ELSE 5 END,
           c.timeout
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
COMMENT ON FUNCTION pgtq.push_many(text, jsonb) IS
'Pushes many tasks in one statement; returns their ids in order. tasks: JSON array of objects with keys task (required), args, priority, max_attempts (JSON integers), run_at, delay, timeout (strings); null means the default, other keys are refused. Same limits and errors as pgtq.push; messages name the element.';


CREATE OR REPLACE FUNCTION pgtq.push_many(queue text, tasks text[], args jsonb[],
                               priorities integer[] DEFAULT NULL,
                               max_attempts integer[] DEFAULT NULL,
                               run_at timestamptz[] DEFAULT NULL,
                               delays interval[] DEFAULT NULL,
                               timeouts interval[] DEFAULT NULL)
RETURNS SETOF bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  given     integer := cardinality(push_many.tasks);
  ids       bigint[];
  any_due        boolean;
  earliest_later timestamptz; -- the earliest run_at of the delayed tasks
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

COMMENT ON FUNCTION pgtq.push_many(text, text[], jsonb[], integer[], integer[], timestamptz[], interval[], interval[]) IS
'Pushes tasks[i] with args[i] (NULL: []; a JSON array or object, <= 1 MiB as text, <= 100 deep) and optional priorities[i] (-32768..32767, NULL: 0), max_attempts[i] (1..1000, NULL: 5), run_at[i] and delays[i] (the start within 100 years of now; NULL: none), timeouts[i] (more than 0, at most 365 days; NULL: none); every given array as long as tasks, at most 100000. Returns the new ids in order; at most one NOTIFY. All or nothing. Errors: 22004 NULL tasks, args or task name, 22023 bad value or lengths, 54000 over a limit.';


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
                                     locked_by, result, last_error, errors, timeout)
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
           e.timeout
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
COMMENT ON FUNCTION pgtq.finish_many(bigint[], bigint[], text[], jsonb[], text[], float8[]) IS
'Records outcomes given as arrays of one length (<= 100000; 54000 beyond): task_ids[i] and task_claims[i] (not NULL), statuses[i] done|retry|fail|snooze, results[i] (done only; <= 1 MiB as text, <= 100 deep, 54000 otherwise), errors[i] (cut to 64 KiB), retry_in[i] seconds (clamped to 0..3155760000; NULL, negative, NaN: 0). The form pgtqd uses. An id twice or a bad status: 22023; a NULL array or id: 22004; nothing recorded on any error. Returns the ids whose claim was no longer current.';


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
    PERFORM pgtq.wake_queue(q)
       FROM (SELECT unnest(coalesce(wake, '{}') || coalesce(rescue_wake, '{}')) AS q) w
      WHERE octet_length(q) < 7900
      GROUP BY q;

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
  END IF;
  -- A row written straight into the table may say 'infinity' or year 294276: the caller
  -- subtracts the time from now, so next_due keeps it within 100 years of now.
  next_due := pgtq.next_due();
END $$;
COMMENT ON FUNCTION pgtq.tick(integer) IS
'The scheduler''s work, at most max_count (1..100000) rows per sweep: due scheduled tasks become queued, expired leases are rescued or failed, registrations of ended sessions in idle_workers and waiting_schedulers are removed. One session at a time (advisory lock); others return zeros. next_due: the earliest scheduled run_at, kept within 100 years of now. Errors: 22004 NULL, 22023 out of range.';

