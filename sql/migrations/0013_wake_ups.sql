-- Pushes notify only while a worker of their queue waits for it.
--
-- Every push sent a NOTIFY, and a NOTIFY holds one lock of the whole instance from the
-- pushing transaction's commit until it ends: pushing transactions of every database
-- committed one at a time, so 16 clients pushing one task per transaction reached 0.29x the
-- rate of the same clients doing plain INSERTs. Now a claim loop that goes to sleep
-- registers in pgtq.idle_workers, and a push notifies only while one of its queue is there
-- (always outside READ COMMITTED). pgtq.wake_queue is that decision; each push takes the
-- queue's push lock in shared mode first, so that a claim loop can tell when every push that
-- looked before its registration has ended (pgtq.pushes_in_flight). sql/schema/09_wake_ups.sql
-- says why no wake-up is lost. finish_many's immediate retries, release and tick wake through
-- wake_queue as well, and tick removes registrations of ended sessions.
--
-- A pgtqd older than this one never registers: pushes stop waking it, and it finds new
-- tasks at its poll interval until it is upgraded.

CREATE TABLE pgtq.idle_workers (
  queue  text NOT NULL,
  pid    integer NOT NULL,
  worker text NOT NULL,
  since  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (queue, pid)
);
COMMENT ON TABLE pgtq.idle_workers IS
  'Claim loops waiting for a NOTIFY of their queue; pushes notify only while one is here.';

-- pgtq's advisory lock key space (the two-int4 form; applications mostly use one bigint):
-- 'pgtq' as an int4, and the queue's bucket.
CREATE FUNCTION pgtq.wake_queue(queue text) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  PERFORM pg_advisory_xact_lock_shared(1885828209, hashtext(wake_queue.queue) & 63);
  IF current_setting('transaction_isolation') <> 'read committed'
     OR EXISTS (SELECT 1 FROM pgtq.idle_workers w WHERE w.queue = wake_queue.queue) THEN
    PERFORM pg_notify('pgtq_wakeup', wake_queue.queue);
  END IF;
END $$;
COMMENT ON FUNCTION pgtq.wake_queue(text) IS
'Wakes the workers waiting on queue, if any (NOTIFY pgtq_wakeup at commit): what push and push_many do for due tasks. Outside READ COMMITTED it always notifies. Call it after writing tasks into live_tasks by hand.';

-- Registers this session as a claim loop of queue that sleeps until a NOTIFY; worker names
-- it (1..1024 characters). The caller must have LISTENed on pgtq_wakeup, and must claim once
-- more after pushes_in_flight reports none before it relies on notifications. Returns true
-- when the session was not registered (a new registration, or its row had been removed):
-- the caller registering again at each poll finds out that pushes stopped notifying it.
CREATE FUNCTION pgtq.worker_idle(queue text, worker text) RETURNS boolean
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  inserted boolean;
BEGIN
  PERFORM pgtq.check_name('queue', worker_idle.queue);
  IF worker IS NULL OR length(worker) NOT BETWEEN 1 AND 1024 THEN
    RAISE EXCEPTION 'pgtq.worker_idle: worker must be 1 to 1024 characters long'
      USING ERRCODE = CASE WHEN worker IS NULL THEN 'null_value_not_allowed'
                           ELSE 'invalid_parameter_value' END;
  END IF;
  INSERT INTO pgtq.idle_workers AS w (queue, pid, worker)
  VALUES (worker_idle.queue, pg_backend_pid(), worker)
  ON CONFLICT ON CONSTRAINT idle_workers_pkey DO UPDATE SET worker = excluded.worker
  RETURNING w.xmax = 0 INTO inserted;
  RETURN inserted;
END $$;
COMMENT ON FUNCTION pgtq.worker_idle(text, text) IS
'Registers this session (its backend pid) as a claim loop of queue waiting for a NOTIFY; pushes to queue notify while it is registered. worker: 1..1024 characters. Returns true when the session was not registered before. Errors: 22004 NULL, 22023 bad value.';

-- This session's claim loop of queue no longer waits for notifications: pushes to queue
-- stop notifying once no other is registered.
CREATE FUNCTION pgtq.worker_busy(queue text) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  PERFORM pgtq.check_name('queue', worker_busy.queue);
  DELETE FROM pgtq.idle_workers w WHERE w.queue = worker_busy.queue AND w.pid = pg_backend_pid();
END $$;
COMMENT ON FUNCTION pgtq.worker_busy(text) IS
'Removes this session''s registration as an idle claim loop of queue. Errors: 22004 NULL, 22023 bad name.';

-- The transactions pushing to queue right now (pg_locks' virtualtransaction of each holder
-- of the queue's push lock), or, given among, those of among that still are. Empty when
-- none. Reads pg_locks, which briefly takes every lock partition: a claim loop calls it
-- when it goes idle, not per task.
CREATE FUNCTION pgtq.pushes_in_flight(queue text, among text[] DEFAULT NULL) RETURNS text[]
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  PERFORM pgtq.check_name('queue', pushes_in_flight.queue);
  RETURN coalesce((SELECT array_agg(DISTINCT l.virtualtransaction ORDER BY l.virtualtransaction)
                     FROM pg_locks l
                    WHERE l.locktype = 'advisory' AND l.granted
                      AND l.database = (SELECT d.oid FROM pg_database d
                                         WHERE d.datname = current_database())
                      AND l.classid = 1885828209::oid
                      AND l.objid = (hashtext(pushes_in_flight.queue) & 63)::oid
                      AND l.objsubid = 2
                      AND (among IS NULL OR l.virtualtransaction = ANY (among))), '{}');
END $$;
COMMENT ON FUNCTION pgtq.pushes_in_flight(text, text[]) IS
'The transactions that hold queue''s push lock now (pushes not yet committed), as pg_locks virtualtransaction ids; with among, only those of among. A claim loop waits until its list empties after registering. Errors: 22004 NULL, 22023 bad name.';

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
  INSERT INTO pgtq.live_tasks (queue, task, args, state, priority, run_at, max_attempts, timeout)
  VALUES (push.queue, push.task, push.args,
          CASE WHEN due THEN 'queued' ELSE 'scheduled' END::pgtq.task_state,
          push.priority, start_at, push.max_attempts, push.timeout)
  RETURNING id INTO new_id;
  IF due THEN
    PERFORM pgtq.wake_queue(push.queue);
  ELSE
    PERFORM pg_notify('pgtq_scheduled', '');
  END IF;
  RETURN new_id;
END $$;
COMMENT ON FUNCTION pgtq.push(text, text, jsonb, timestamptz, interval, integer, integer, interval) IS
'Pushes one task; returns its id. queue, task: 1..128 characters of [A-Za-z0-9_.:-]. args: JSON array or object, <= 1 MiB as text, nested <= 100 deep. run_at (default now()) + delay: within 100 years of now(); delay 0..100 years. priority -32768..32767 (smaller first), max_attempts 1..1000. timeout: how long each attempt may run, more than 0 and at most 365 days (NULL: the task name''s, else pgtqd''s task-timeout). Errors: 22004 NULL, 22023 bad value, 54000 args too large or deep.';

CREATE OR REPLACE FUNCTION pgtq.push_many(queue text, tasks jsonb) RETURNS SETOF bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  ids       bigint[];
  any_due   boolean;
  any_later boolean;
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
    INSERT INTO pgtq.live_tasks (queue, task, args, state, priority, run_at, max_attempts,
                                 timeout)
    SELECT push_many.queue, c.task, c.args,
           CASE WHEN coalesce(c.run_at, now()) + coalesce(c.delay, interval '0') <= now()
                THEN 'queued' ELSE 'scheduled' END::pgtq.task_state,
           CASE WHEN jsonb_typeof(c.priority) = 'number' THEN c.priority::integer ELSE 0 END,
           coalesce(c.run_at, now()) + coalesce(c.delay, interval '0'),
           CASE WHEN jsonb_typeof(c.max_attempts) = 'number' THEN c.max_attempts::integer ELSE 5 END,
           c.timeout
      FROM checked c ORDER BY c.ord
    RETURNING id, state
  )
  SELECT array_agg(i.id ORDER BY i.id), bool_or(i.state = 'queued'), bool_or(i.state = 'scheduled')
    INTO ids, any_due, any_later FROM inserted i;
  IF any_due THEN
    PERFORM pgtq.wake_queue(push_many.queue);
  END IF;
  IF any_later THEN
    PERFORM pg_notify('pgtq_scheduled', '');
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
    INSERT INTO pgtq.live_tasks (queue, task, args, state, priority, run_at, max_attempts,
                                 timeout)
    SELECT push_many.queue, c.task, c.args,
           CASE WHEN coalesce(c.run_at, now()) + coalesce(c.delay, interval '0') <= now()
                THEN 'queued' ELSE 'scheduled' END::pgtq.task_state,
           coalesce(c.priority, 0),
           coalesce(c.run_at, now()) + coalesce(c.delay, interval '0'),
           coalesce(c.max_attempts, 5), c.timeout
      FROM checked c ORDER BY c.ord
    RETURNING id, state
  )
  SELECT array_agg(i.id ORDER BY i.id), bool_or(i.state = 'queued'), bool_or(i.state = 'scheduled')
    INTO ids, any_due, any_later FROM inserted i;
  IF any_due THEN
    PERFORM pgtq.wake_queue(push_many.queue);
  END IF;
  IF any_later THEN
    PERFORM pg_notify('pgtq_scheduled', '');
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
      RETURNING l.id, l.queue, l.state
    )
    SELECT array_agg(id), array_agg(DISTINCT queue) FILTER (WHERE state = 'queued'),
           bool_or(state = 'scheduled')
      INTO requeued, wake, delayed FROM again;

    IF wake IS NOT NULL THEN
      PERFORM pgtq.wake_queue(q) FROM unnest(wake) AS q WHERE octet_length(q) < 7900;
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
COMMENT ON FUNCTION pgtq.finish_many(bigint[], bigint[], text[], jsonb[], text[], float8[]) IS
'Records outcomes given as arrays of one length (<= 100000; 54000 beyond): task_ids[i] and task_claims[i] (not NULL), statuses[i] done|retry|fail|snooze, results[i] (done only; <= 1 MiB as text, <= 100 deep, 54000 otherwise), errors[i] (cut to 64 KiB), retry_in[i] seconds (clamped to 0..3155760000; NULL, negative, NaN: 0). The form pgtqd uses. An id twice or a bad status: 22023; a NULL array or id: 22004; nothing recorded on any error. Returns the ids whose claim was no longer current.';

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
  PERFORM pgtq.wake_queue(q) FROM unnest(wake) AS q WHERE octet_length(q) < 7900;
  RETURN requeued + cancelled;
END $$;
COMMENT ON FUNCTION pgtq.release(bigint[], bigint[]) IS
'Gives claimed tasks back unfinished: queued again, attempt given back (a task whose cancellation was requested ends cancelled). Arrays of equal length; NULL elements match nothing; a task named twice counts once. Returns how many were still held. Errors: 22004 NULL array, 22023 lengths differ.';

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
    DELETE FROM pgtq.idle_workers w
     WHERE NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.pid = w.pid);
  END IF;
  SELECT min(l.run_at) INTO next_due FROM pgtq.live_tasks l WHERE l.state = 'scheduled';
  -- A row written straight into the table may say 'infinity' or year 294276: the caller
  -- subtracts the time from now, so keep it within 100 years of now.
  IF next_due IS NOT NULL THEN
    next_due := least(greatest(next_due, clock_timestamp() - interval '100 years'),
                      clock_timestamp() + interval '100 years');
  END IF;
END $$;
COMMENT ON FUNCTION pgtq.tick(integer) IS
'The scheduler''s work, at most max_count (1..100000) rows per sweep: due scheduled tasks become queued, expired leases are rescued or failed, registrations of ended sessions in idle_workers are removed. One session at a time (advisory lock); others return zeros. next_due: the earliest scheduled run_at, kept within 100 years of now. Errors: 22004 NULL, 22023 out of range.';
