-- A timeout per task, given at push.
--
-- pgtq.push, both forms of pgtq.push_many and pgtqctl push take a timeout: how long each
-- attempt of the task may run. It comes before the task name's timeout (the plugin's) and
-- pgtqd's task-timeout. At the deadline the handler's should_stop() turns true; with
-- isolation = process its worker is killed after timeout-grace and the attempt recorded as
-- "timed out after N s".
--
-- live_tasks and finished_tasks gain a timeout column (NULL: none given), claim and pop
-- return it, the history keeps it, and the tasks view shows it. push and the array form of
-- push_many gain a last argument with a default, so existing calls work unchanged; their
-- old signatures are dropped so that a call cannot be ambiguous. claim and pop return one
-- more column at the end.

ALTER TABLE pgtq.live_tasks ADD COLUMN timeout interval;
COMMENT ON COLUMN pgtq.live_tasks.timeout IS
  'How long one attempt may run (push''s timeout; NULL: the task name''s or the daemon''s).';
ALTER TABLE pgtq.finished_tasks ADD COLUMN timeout interval;

CREATE FUNCTION pgtq.timeout_ok(timeout interval) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
  SELECT extract(year FROM timeout) = 0 AND extract(month FROM timeout) = 0
         AND extract(epoch FROM timeout) > 0 AND extract(epoch FROM timeout) <= 31536000
$$;

CREATE FUNCTION pgtq.check_timeout(what text, timeout interval) RETURNS void
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF timeout IS NOT NULL AND NOT pgtq.timeout_ok(timeout) THEN
    RAISE EXCEPTION '% must be more than 0 and at most 365 days (no months or years), got %',
      what, timeout USING ERRCODE = 'invalid_parameter_value';
  END IF;
END $$;

DROP FUNCTION pgtq.push(text, text, jsonb, timestamptz, interval, integer, integer);
CREATE FUNCTION pgtq.push(
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
    PERFORM pg_notify('pgtq_wakeup', push.queue);
  ELSE
    PERFORM pg_notify('pgtq_scheduled', '');
  END IF;
  RETURN new_id;
END $$;
COMMENT ON FUNCTION pgtq.push(text, text, jsonb, timestamptz, interval, integer, integer, interval) IS
'Pushes one task; returns its id. queue, task: 1..128 characters of [A-Za-z0-9_.:-]. args: JSON array or object, <= 1 MiB as text, nested <= 100 deep. run_at (default now()) + delay: within 100 years of now(); delay 0..100 years. priority -32768..32767 (smaller first), max_attempts 1..1000. timeout: how long each attempt may run, more than 0 and at most 365 days (NULL: the task name''s, else pgtqd''s task-timeout). Errors: 22004 NULL, 22023 bad value, 54000 args too large or deep.';

CREATE OR REPLACE FUNCTION pgtq.push_many_element_error(ord bigint, elem jsonb) RETURNS boolean
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  what   text := 'pgtq.push_many: element ' || ord || ': ';
  bad    text;
  field  text;
  value  jsonb;
BEGIN
  IF jsonb_typeof(elem) IS DISTINCT FROM 'object' THEN
    RAISE EXCEPTION 'pgtq.push_many: element % of tasks is not a JSON object', ord
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  SELECT k INTO bad FROM jsonb_object_keys(elem) AS k
   WHERE k NOT IN ('task', 'args', 'priority', 'max_attempts', 'run_at', 'delay', 'timeout')
   LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION '%unknown key "%" (known: task, args, priority, max_attempts, run_at, delay, timeout)',
      what, bad USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF NOT elem ? 'task' THEN
    RAISE EXCEPTION '%"task" is missing', what USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF jsonb_typeof(elem->'task') <> 'string' THEN
    RAISE EXCEPTION '%task must be a JSON string, got %', what, jsonb_typeof(elem->'task')
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  FOREACH field IN ARRAY ARRAY['priority', 'max_attempts'] LOOP
    value := elem->field;
    IF value IS NOT NULL AND jsonb_typeof(value) <> 'null'
       AND (jsonb_typeof(value) <> 'number' OR value::numeric <> trunc(value::numeric)) THEN
      RAISE EXCEPTION '% must be a JSON integer, got %', what || field, value
        USING ERRCODE = 'invalid_parameter_value';
    END IF;
  END LOOP;
  value := elem->'priority';
  IF jsonb_typeof(value) = 'number' AND value::numeric NOT BETWEEN -32768 AND 32767 THEN
    RAISE EXCEPTION 'pgtq: priority % of task "%" is outside -32768..32767', value, elem->>'task'
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  value := elem->'max_attempts';
  IF jsonb_typeof(value) = 'number' AND value::numeric NOT BETWEEN 1 AND 1000 THEN
    RAISE EXCEPTION 'pgtq: max_attempts % of task "%" is outside 1..1000', value, elem->>'task'
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  FOREACH field IN ARRAY ARRAY['run_at', 'delay', 'timeout'] LOOP
    value := elem->field;
    IF value IS NOT NULL AND jsonb_typeof(value) NOT IN ('null', 'string') THEN
      RAISE EXCEPTION '% must be a JSON string, got %', what || field, value
        USING ERRCODE = 'invalid_parameter_value';
    END IF;
  END LOOP;
  PERFORM pgtq.check_task(elem->>'task', coalesce(elem->'args', '[]'::jsonb), 0, 5);
  PERFORM pgtq.start_time(what, CASE WHEN jsonb_typeof(elem->'run_at') = 'string'
                                     THEN (elem->>'run_at')::timestamptz END,
                          CASE WHEN jsonb_typeof(elem->'delay') = 'string'
                               THEN (elem->>'delay')::interval END);
  PERFORM pgtq.check_timeout(what || 'timeout', CASE WHEN jsonb_typeof(elem->'timeout') = 'string'
                                                     THEN (elem->>'timeout')::interval END);
  RAISE EXCEPTION '%invalid', what USING ERRCODE = 'invalid_parameter_value';
END $$;

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
    PERFORM pg_notify('pgtq_wakeup', push_many.queue);
  END IF;
  IF any_later THEN
    PERFORM pg_notify('pgtq_scheduled', '');
  END IF;
  RETURN QUERY SELECT unnest(ids);
END $$;
COMMENT ON FUNCTION pgtq.push_many(text, jsonb) IS
'Pushes many tasks in one statement; returns their ids in order. tasks: JSON array of objects with keys task (required), args, priority, max_attempts (JSON integers), run_at, delay, timeout (strings); null means the default, other keys are refused. Same limits and errors as pgtq.push; messages name the element.';

DROP FUNCTION pgtq.push_many(text, text[], jsonb[], integer[], integer[], timestamptz[], interval[]);
DROP FUNCTION pgtq.push_many_arrays_error(text, text[], jsonb[], integer[], integer[], timestamptz[], interval[]);
CREATE FUNCTION pgtq.push_many_arrays_error(queue text, tasks text[], args jsonb[],
                                            priorities integer[], max_attempts integer[],
                                            run_at timestamptz[], delays interval[],
                                            timeouts interval[])
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
     OR coalesce(array_ndims(run_at), 1) <> 1 OR coalesce(array_ndims(delays), 1) <> 1
     OR coalesce(array_ndims(timeouts), 1) <> 1 THEN
    RAISE EXCEPTION 'pgtq.push_many: tasks, args, priorities, max_attempts, run_at, delays and '
      'timeouts must be one-dimensional arrays' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF cardinality(args) <> given OR cardinality(priorities) <> given
     OR cardinality(max_attempts) <> given OR cardinality(run_at) <> given
     OR cardinality(delays) <> given OR cardinality(timeouts) <> given THEN
    RAISE EXCEPTION 'pgtq.push_many: tasks has % elements; args, priorities, max_attempts, '
      'run_at, delays and timeouts must have as many (or be NULL, except args), got %, %, %, %, '
      '% and %', given, cardinality(args), cardinality(priorities), cardinality(max_attempts),
      cardinality(run_at), cardinality(delays), cardinality(timeouts)
      USING ERRCODE = 'invalid_parameter_value';
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
    PERFORM pgtq.check_timeout(what || 'timeouts[' || i || ']', timeouts[i]);
  END LOOP;
  RETURN NULL;
END $$;

CREATE FUNCTION pgtq.push_many(queue text, tasks text[], args jsonb[],
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
    PERFORM pg_notify('pgtq_wakeup', push_many.queue);
  END IF;
  IF any_later THEN
    PERFORM pg_notify('pgtq_scheduled', '');
  END IF;
  RETURN QUERY SELECT unnest(ids);
END $$;
COMMENT ON FUNCTION pgtq.push_many(text, text[], jsonb[], integer[], integer[], timestamptz[], interval[], interval[]) IS
'Pushes tasks[i] with args[i] (NULL: []; a JSON array or object, <= 1 MiB as text, <= 100 deep) and optional priorities[i] (-32768..32767, NULL: 0), max_attempts[i] (1..1000, NULL: 5), run_at[i] and delays[i] (the start within 100 years of now; NULL: none), timeouts[i] (more than 0, at most 365 days; NULL: none); every given array as long as tasks, at most 100000. Returns the new ids in order; one NOTIFY per queue. All or nothing. Errors: 22004 NULL tasks, args or task name, 22023 bad value or lengths, 54000 over a limit.';

DROP FUNCTION pgtq.pop(text, text[], integer, text, interval);
DROP FUNCTION pgtq.claim(text, text[], integer, text, interval);
CREATE FUNCTION pgtq.claim(queue text, task_names text[], max_count integer,
                           worker text, lease interval DEFAULT interval '15 seconds')
RETURNS TABLE (id bigint, claim bigint, task text, args jsonb, attempt integer,
               max_attempts integer, timeout interval)
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_generic_plan SET enable_seqscan = off SET jit = off AS $$
DECLARE
  picked     bigint[];
  token_base bigint;
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
  SELECT array_agg(p.id) INTO picked
    FROM (SELECT l.id FROM pgtq.live_tasks l
           WHERE l.queue = claim.queue AND l.state = 'queued' AND l.task = ANY (task_names)
           ORDER BY l.priority, l.run_at, l.id
           LIMIT max_count
             FOR UPDATE SKIP LOCKED) p;
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
           started_at = clock_timestamp(), locked_by = worker,
           locked_until = clock_timestamp() + lease
     WHERE l.id = ANY (picked)
    RETURNING l.id, l.claim, l.task, l.args, l.attempts, l.max_attempts, l.timeout, l.priority,
              l.run_at
  )
  SELECT c.id, c.claim, c.task, c.args, c.attempts, c.max_attempts, c.timeout
    FROM claimed c ORDER BY c.priority, c.run_at, c.id;
END $$;
COMMENT ON FUNCTION pgtq.claim(text, text[], integer, text, interval) IS
'Claims up to max_count (0..100000) queued tasks of queue named in task_names, in (priority, run_at, id) order, for worker (1..1024 characters) with a lease of 1 second..1 day. Returns id, claim token (random, 64 bits), task, args, attempt, max_attempts, timeout (the push''s, NULL if none). pgtqd uses it; programs without pgtqd use pgtq.pop. Errors: 22004 NULL, 22023 bad value.';

CREATE FUNCTION pgtq.pop(queue text, task_names text[], max_count integer, worker text,
                         lease interval DEFAULT interval '15 seconds')
RETURNS TABLE (id bigint, claim bigint, task text, args jsonb, attempt integer,
               max_attempts integer, timeout interval)
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  -- Checked before the tick, so that a refused pop changes nothing.
  IF NOT (pop.queue ~ '^[A-Za-z0-9_.:-]+$' AND length(pop.queue) <= 128
          AND cardinality(task_names) <= 10000
          AND max_count BETWEEN 0 AND 100000
          AND length(worker) BETWEEN 1 AND 1024
          AND extract(year FROM lease) = 0 AND extract(month FROM lease) = 0
          AND extract(epoch FROM lease) BETWEEN 1 AND 86400)
     OR pop.queue IS NULL OR task_names IS NULL OR max_count IS NULL OR worker IS NULL
     OR lease IS NULL THEN
    PERFORM pgtq.check_claim_args('pgtq.pop', pop.queue, task_names, max_count, worker, lease);
  END IF;
  -- now(), not clock_timestamp(): a stable bound is an index condition, a volatile one a
  -- filter over every scheduled or running row.
  IF EXISTS (SELECT 1 FROM pgtq.live_tasks l
              WHERE l.state = 'scheduled' AND l.run_at <= now())
     OR EXISTS (SELECT 1 FROM pgtq.live_tasks l
                 WHERE l.state = 'running' AND l.locked_until < now()) THEN
    PERFORM pgtq.tick(1000);
  END IF;
  RETURN QUERY SELECT * FROM pgtq.claim(pop.queue, task_names, max_count, worker, lease);
END $$;
COMMENT ON FUNCTION pgtq.pop(text, text[], integer, text, interval) IS
'pgtq.claim preceded by the scheduler''s work (pgtq.tick), so that delayed tasks, retries and expired leases reach a program that works tasks without pgtqd. Same arguments, result and errors as pgtq.claim.';

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
           (ended).timeout)::pgtq.finished_tasks;

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
COMMENT ON FUNCTION pgtq.finish_many(bigint[], bigint[], text[], jsonb[], text[], float8[]) IS
'Records outcomes given as arrays of one length (<= 100000; 54000 beyond): task_ids[i] and task_claims[i] (not NULL), statuses[i] done|retry|fail|snooze, results[i] (done only; <= 1 MiB as text, <= 100 deep, 54000 otherwise), errors[i] (cut to 64 KiB), retry_in[i] seconds (clamped to 0..3155760000; NULL, negative, NaN: 0). The form pgtqd uses. An id twice or a bad status: 22023; a NULL array or id: 22004; nothing recorded on any error. Returns the ids whose claim was no longer current.';

CREATE OR REPLACE VIEW pgtq.tasks AS
  SELECT id, queue, task, args, state, priority, run_at, attempts, max_attempts,
         created_at, started_at, NULL::timestamptz AS finished_at, locked_by, locked_until,
         NULL::jsonb AS result, last_error, errors, timeout
    FROM pgtq.live_tasks
  UNION ALL
  SELECT id, queue, task, args, state, priority, run_at, attempts, max_attempts,
         created_at, started_at, finished_at, locked_by, NULL::timestamptz AS locked_until,
         result, last_error, errors, timeout
    FROM pgtq.finished_tasks;
