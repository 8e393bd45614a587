-- Every public function validates every argument, every value that grows over a task's life
-- is bounded, and no function depends on the caller's search_path.
--
-- Limits (README "Limits"; docs/architecture.md "Validation"):
--   queue, task names   1..128 characters from [A-Za-z0-9_.:-]
--   args                a JSON array or object; at most 1 MiB (1048576 bytes) as JSON text,
--                       the text a worker receives (a number like 1e131071 is 82 bytes stored
--                       and 131072 as text); arrays and objects nested at most 100 deep
--   result              any JSON value, the same size and depth limits
--   error               at most 64 KiB (65536 bytes); longer ones are cut, never refused
--   run_at              finite, within 100 years of now(), also after adding delay (a past
--                       run_at means "due now")
--   delay, retry_in     0 .. 100 years, counted on the calendar (now() + delay); direct
--                       callers get an error outside that range, finish_many (the daemon's
--                       batch path) clamps instead: negative or NaN -> 0, more -> 100 years
--   lease               1 second .. 1 day
--   worker              1..1024 characters
--   claim/tick count    claim 0..100000 (pgtqd: concurrency + prefetch), tick 1..100000
--   errors list         the last 100 entries are kept
--   100 years is 3155760000 seconds (PGTQ_MAX_DELAY_SECONDS in plugin.h).
-- SQLSTATEs: 22004 null_value_not_allowed for a NULL where none is allowed, 22023
-- invalid_parameter_value for a bad value, 54000 program_limit_exceeded for a size or depth
-- limit. Every message starts with the function (or "pgtq:" for push's task checks, as
-- before) and names the argument.
--
-- search_path: every function runs with search_path = pg_catalog, pg_temp, so that a
-- caller's own now() or jsonb_typeof earlier in its path is never picked up. Everything of
-- pgtq's is schema-qualified.
--
-- pgtq.pop: claim for programs that work tasks without pgtqd. It does the scheduler's work
-- first (pgtq.tick: due tasks, expired leases), so delayed tasks and retries reach such a
-- program without any daemon running.
--
-- tick: no row can make it raise. next_due is clamped to within 100 years of now (an
-- 'infinity' run_at written straight into the table made every scheduler's tick fail), lease
-- errors quote at most 1024 characters of the worker name, notifications skip queue names
-- no channel payload can carry, and the errors list is trimmed before appending.
-- Counters: claim never takes attempts past 2147483647 or claims past 9223372036854775807,
-- snooze and release never take attempts below 0.

-- ---------------------------------------------------------------------------------------
-- Internal checks. Each raises the precise error; the hot paths test the same rules as
-- plain expressions first and call these only for a value that fails them.

CREATE OR REPLACE FUNCTION pgtq.check_name(kind text, name text) RETURNS void
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF name IS NULL THEN
    RAISE EXCEPTION 'pgtq: % name is NULL', kind USING ERRCODE = 'null_value_not_allowed';
  END IF;
  IF name = '' THEN
    RAISE EXCEPTION 'pgtq: % name is empty', kind USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF length(name) > 128 THEN
    RAISE EXCEPTION 'pgtq: % name is % characters long, the limit is 128', kind, length(name)
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF name !~ '^[A-Za-z0-9_.:-]+$' THEN
    RAISE EXCEPTION 'pgtq: % name "%" has characters outside [A-Za-z0-9_.:-]', kind, name
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
END $$;

-- True when value nests arrays and objects more than 100 deep. Nesting 100 deep takes at
-- least 800 bytes stored (8 per level), so smaller uncompressed values need no walk; the
-- jsonpath visits only the first 101 levels of a deeper one.
CREATE FUNCTION pgtq.too_deep(value jsonb) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
  SELECT (pg_column_size(value) >= 800 OR pg_column_compression(value) IS NOT NULL)
         AND value @? 'strict $.**{100} ? (@.type() == "array" || @.type() == "object")'
$$;

-- Raises when a JSON value (args or a result) is over the size or depth limit. what names it
-- in the message, e.g. 'pgtq.complete: result'.
CREATE FUNCTION pgtq.check_json_limits(what text, value jsonb) RETURNS void
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF octet_length(value::text) > 1048576 THEN
    RAISE EXCEPTION '% is % bytes as JSON text, the limit is 1048576', what,
      octet_length(value::text) USING ERRCODE = 'program_limit_exceeded';
  END IF;
  IF (pg_column_size(value) >= 800 OR pg_column_compression(value) IS NOT NULL)
     AND pgtq.too_deep(value) THEN
    RAISE EXCEPTION '% nests arrays and objects more than 100 deep', what
      USING ERRCODE = 'program_limit_exceeded';
  END IF;
END $$;

-- As in 0006, with NULLs refused as NULLs, the size measured on the text every time (numbers
-- make the text arbitrarily longer than the stored value) and the nesting depth bounded.
CREATE OR REPLACE FUNCTION pgtq.check_task(task text, args jsonb, priority integer,
                                           max_attempts integer)
RETURNS boolean
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  PERFORM pgtq.check_name('task', task);
  IF args IS NULL THEN
    RAISE EXCEPTION 'pgtq: args of task "%" must be a JSON array or object, not NULL', task
      USING ERRCODE = 'null_value_not_allowed';
  END IF;
  IF jsonb_typeof(args) NOT IN ('array', 'object') THEN
    RAISE EXCEPTION 'pgtq: args of task "%" must be a JSON array or object, not %',
      task, jsonb_typeof(args)
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF octet_length(args::text) > 1048576 THEN
    RAISE EXCEPTION 'pgtq: args of task "%" are % bytes as JSON text, the limit is 1048576',
      task, octet_length(args::text)
      USING ERRCODE = 'program_limit_exceeded';
  END IF;
  IF (pg_column_size(args) >= 800 OR pg_column_compression(args) IS NOT NULL)
     AND pgtq.too_deep(args) THEN
    RAISE EXCEPTION 'pgtq: args of task "%" nest arrays and objects more than 100 deep', task
      USING ERRCODE = 'program_limit_exceeded';
  END IF;
  IF priority IS NULL THEN
    RAISE EXCEPTION 'pgtq: priority of task "%" is NULL', task
      USING ERRCODE = 'null_value_not_allowed';
  END IF;
  IF priority NOT BETWEEN -32768 AND 32767 THEN
    RAISE EXCEPTION 'pgtq: priority % of task "%" is outside -32768..32767', priority, task
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF max_attempts IS NULL THEN
    RAISE EXCEPTION 'pgtq: max_attempts of task "%" is NULL', task
      USING ERRCODE = 'null_value_not_allowed';
  END IF;
  IF max_attempts NOT BETWEEN 1 AND 1000 THEN
    RAISE EXCEPTION 'pgtq: max_attempts % of task "%" is outside 1..1000', max_attempts, task
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  RETURN true;
END $$;

-- True when delay lies in 0 .. 100 years on the calendar (now() + delay). The field bounds
-- come first so that the timestamp arithmetic cannot overflow.
CREATE FUNCTION pgtq.delay_ok(delay interval) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
  SELECT CASE WHEN extract(year FROM delay) BETWEEN -200 AND 200
               AND extract(day FROM delay) BETWEEN -100000 AND 100000
               AND extract(epoch FROM delay) BETWEEN -7e9 AND 7e9
              THEN now() + delay >= now() AND now() + delay <= now() + interval '100 years'
              ELSE false END
$$;

-- Raises unless delay is NULL or lies in 0 .. 100 years. what: e.g. 'pgtq.snooze: delay'.
CREATE FUNCTION pgtq.check_delay(what text, delay interval) RETURNS void
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF delay IS NOT NULL AND NOT pgtq.delay_ok(delay) THEN
    RAISE EXCEPTION '% must be between 0 and 100 years, got %', what, delay
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
END $$;

-- The start time of a pushed task: coalesce(run_at, now()) + coalesce(delay, 0), each part
-- and the sum within 100 years of now(). what: e.g. 'pgtq.push: ' or 'pgtq.push_many
-- element 3: '.
CREATE FUNCTION pgtq.start_time(what text, run_at timestamptz, delay interval)
RETURNS timestamptz
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  start_at timestamptz := coalesce(run_at, now());
BEGIN
  IF NOT isfinite(start_at) OR start_at < now() - interval '100 years'
     OR start_at > now() + interval '100 years' THEN
    RAISE EXCEPTION '%run_at must be within 100 years of now(), got %', what, run_at
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  PERFORM pgtq.check_delay(what || 'delay', delay);
  start_at := start_at + coalesce(delay, interval '0');
  IF start_at > now() + interval '100 years' THEN
    RAISE EXCEPTION '%run_at + delay must be within 100 years of now(), got %', what, start_at
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  RETURN start_at;
END $$;

-- Error texts are kept to 64 KiB: the first part, cut on a character boundary, and a mark.
CREATE FUNCTION pgtq.clip_error(error text) RETURNS text
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  keep integer := 65520;
BEGIN
  IF error IS NULL OR octet_length(error) <= 65536 THEN
    RETURN error;
  END IF;
  WHILE octet_length(left(error, keep)) > 65520 LOOP
    keep := keep - (octet_length(left(error, keep)) - 65520 + 3) / 4 - 1;
  END LOOP;
  RETURN left(error, keep) || ' [truncated]';
END $$;

-- A task's errors list before one more entry is appended: at most the last 99 entries (and
-- a list again if something else was written there).
CREATE FUNCTION pgtq.recent_errors(errors jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
  SELECT CASE WHEN jsonb_typeof(errors) IS DISTINCT FROM 'array' THEN '[]'::jsonb
              WHEN jsonb_array_length(errors) < 100 THEN errors
              ELSE jsonb_path_query_array(errors, 'strict $[last - 98 to last]') END
$$;

-- Raises unless lease lies in 1 second .. 1 day.
CREATE FUNCTION pgtq.check_lease(what text, lease interval) RETURNS void
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF lease IS NULL THEN
    RAISE EXCEPTION '%: lease must not be NULL', what USING ERRCODE = 'null_value_not_allowed';
  END IF;
  -- A lease is a duration: days count 24 hours, and month or year parts are refused.
  IF NOT (extract(year FROM lease) = 0 AND extract(month FROM lease) = 0
          AND extract(epoch FROM lease) BETWEEN 1 AND 86400) THEN
    RAISE EXCEPTION '%: lease must be between 1 second and 1 day, got %', what, lease
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
END $$;

-- Raises unless ids and claims are two arrays of the same length. NULL elements are
-- allowed: they match no task.
CREATE FUNCTION pgtq.check_id_claims(what text, task_ids bigint[], task_claims bigint[])
RETURNS void
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF task_ids IS NULL THEN
    RAISE EXCEPTION '%: task_ids must not be NULL', what USING ERRCODE = 'null_value_not_allowed';
  END IF;
  IF task_claims IS NULL THEN
    RAISE EXCEPTION '%: task_claims must not be NULL', what
      USING ERRCODE = 'null_value_not_allowed';
  END IF;
  IF coalesce(array_ndims(task_ids), 1) <> 1 OR coalesce(array_ndims(task_claims), 1) <> 1 THEN
    RAISE EXCEPTION '%: task_ids and task_claims must be one-dimensional arrays', what
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF cardinality(task_ids) <> cardinality(task_claims) THEN
    RAISE EXCEPTION '%: task_ids and task_claims must have the same length, got % and %', what,
      cardinality(task_ids), cardinality(task_claims) USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF cardinality(task_ids) > 100000 THEN
    RAISE EXCEPTION '%: task_ids has % elements, the limit is 100000', what,
      cardinality(task_ids) USING ERRCODE = 'program_limit_exceeded';
  END IF;
END $$;

-- claim's and pop's arguments.
CREATE FUNCTION pgtq.check_claim_args(what text, queue text, task_names text[],
                                      max_count integer, worker text, lease interval)
RETURNS void
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  BEGIN
    PERFORM pgtq.check_name('queue', queue);
  EXCEPTION WHEN null_value_not_allowed OR invalid_parameter_value THEN
    RAISE EXCEPTION '%: %', what, SQLERRM USING ERRCODE = SQLSTATE;
  END;
  IF task_names IS NULL THEN
    RAISE EXCEPTION '%: task_names must not be NULL', what
      USING ERRCODE = 'null_value_not_allowed';
  END IF;
  IF cardinality(task_names) > 10000 THEN
    RAISE EXCEPTION '%: task_names has % elements, the limit is 10000', what,
      cardinality(task_names) USING ERRCODE = 'program_limit_exceeded';
  END IF;
  IF max_count IS NULL THEN
    RAISE EXCEPTION '%: max_count must not be NULL', what
      USING ERRCODE = 'null_value_not_allowed';
  END IF;
  IF max_count NOT BETWEEN 0 AND 100000 THEN
    RAISE EXCEPTION '%: max_count must be between 0 and 100000, got %', what, max_count
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF worker IS NULL THEN
    RAISE EXCEPTION '%: worker must not be NULL', what USING ERRCODE = 'null_value_not_allowed';
  END IF;
  IF length(worker) NOT BETWEEN 1 AND 1024 THEN
    RAISE EXCEPTION '%: worker must be 1 to 1024 characters long, got %', what, length(worker)
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  PERFORM pgtq.check_lease(what, lease);
END $$;

-- The claim token helper of 0007, called once per claimed row. A SET clause would stop
-- PostgreSQL from inlining it into the claim (a function call with a search_path switch per
-- row); instead every name in it is schema-qualified, so no search_path can change it.
CREATE OR REPLACE FUNCTION pgtq.new_claim_token() RETURNS bigint
LANGUAGE sql VOLATILE PARALLEL SAFE AS $$
  SELECT coalesce(nullif(CAST('x' OPERATOR(pg_catalog.||) pg_catalog.substr(pg_catalog.md5(
           CAST(pg_catalog.gen_random_uuid() AS pg_catalog.text)), 1, 16) AS pg_catalog.bit(64))
           ::pg_catalog.int8, 0), 1)
$$;

-- ---------------------------------------------------------------------------------------
-- Pushing.

CREATE OR REPLACE FUNCTION pgtq.push(
  queue        text,
  task         text,
  args         jsonb DEFAULT '[]',
  run_at       timestamptz DEFAULT NULL,
  delay        interval DEFAULT NULL,
  priority     integer DEFAULT 0,
  max_attempts integer DEFAULT 5
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
                  AND (push.delay IS NULL OR pgtq.delay_ok(push.delay)), false) THEN
    PERFORM pgtq.check_name('queue', push.queue);
    PERFORM pgtq.check_task(push.task, push.args, push.priority, push.max_attempts);
    PERFORM pgtq.start_time('pgtq.push: ', push.run_at, push.delay);
  END IF;
  start_at := coalesce(push.run_at, now()) + coalesce(push.delay, interval '0');
  IF start_at > now() + interval '100 years' THEN
    PERFORM pgtq.start_time('pgtq.push: ', push.run_at, push.delay);
  END IF;
  due := start_at <= now();
  INSERT INTO pgtq.live_tasks (queue, task, args, state, priority, run_at, max_attempts)
  VALUES (push.queue, push.task, push.args,
          CASE WHEN due THEN 'queued' ELSE 'scheduled' END::pgtq.task_state,
          push.priority, start_at, push.max_attempts)
  RETURNING id INTO new_id;
  IF due THEN
    PERFORM pg_notify('pgtq_wakeup', push.queue);
  ELSE
    PERFORM pg_notify('pgtq_scheduled', '');
  END IF;
  RETURN new_id;
END $$;

-- Raises the precise error for push_many element ord (1-based), which failed the set-based
-- checks. The order of the checks is the order of the messages a caller sees.
CREATE FUNCTION pgtq.push_many_element_error(ord bigint, elem jsonb) RETURNS boolean
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
   WHERE k NOT IN ('task', 'args', 'priority', 'max_attempts', 'run_at', 'delay') LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION '%unknown key "%" (known: task, args, priority, max_attempts, run_at, delay)',
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
  FOREACH field IN ARRAY ARRAY['run_at', 'delay'] LOOP
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
  RAISE EXCEPTION '%invalid', what USING ERRCODE = 'invalid_parameter_value';
END $$;

-- tasks: a JSON array of objects {"task": …, "args": …, "priority": …, "run_at": …,
-- "delay": …, "max_attempts": …}; only "task" is required, null means the default, any
-- other key is an error. Returns the new ids in order.
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
  -- run_at and delay are text to cast: a cast that fails names no element, so find it.
  IF tasks @? 'lax $[*] ? (exists(@.run_at) || exists(@.delay))' THEN
    BEGIN
      PERFORM count(CASE WHEN jsonb_typeof(x.elem->'run_at') = 'string'
                         THEN (x.elem->>'run_at')::timestamptz END)
              + count(CASE WHEN jsonb_typeof(x.elem->'delay') = 'string'
                           THEN (x.elem->>'delay')::interval END)
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
                THEN (e.elem->>'delay')::interval END AS delay
      FROM jsonb_array_elements(tasks) WITH ORDINALITY AS e(elem, ord)
  ), checked AS (
    -- The rules of check_task and start_time as expressions; CASE keeps the order, so a cast
    -- below only sees a value that passed. The name pattern has no {1,128} bound (0006).
    SELECT s.* FROM spec s
     WHERE CASE WHEN jsonb_typeof(s.elem) = 'object'
                 AND s.elem - '{task,args,priority,max_attempts,run_at,delay}'::text[] = '{}'::jsonb
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
                 AND (s.run_at IS NULL OR (isfinite(s.run_at)
                        AND s.run_at BETWEEN now() - interval '100 years'
                                         AND now() + interval '100 years'))
                 AND (s.delay IS NULL OR pgtq.delay_ok(s.delay))
                 AND coalesce(s.run_at, now()) + coalesce(s.delay, interval '0')
                     <= now() + interval '100 years'
                THEN true
                ELSE pgtq.push_many_element_error(s.ord, s.elem) END
  ), inserted AS (
    INSERT INTO pgtq.live_tasks (queue, task, args, state, priority, run_at, max_attempts)
    SELECT push_many.queue, c.task, c.args,
           CASE WHEN coalesce(c.run_at, now()) + coalesce(c.delay, interval '0') <= now()
                THEN 'queued' ELSE 'scheduled' END::pgtq.task_state,
           CASE WHEN jsonb_typeof(c.priority) = 'number' THEN c.priority::integer ELSE 0 END,
           coalesce(c.run_at, now()) + coalesce(c.delay, interval '0'),
           CASE WHEN jsonb_typeof(c.max_attempts) = 'number' THEN c.max_attempts::integer ELSE 5 END
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

-- ---------------------------------------------------------------------------------------
-- The worker protocol.

-- Exponential backoff with +-20 % jitter, in seconds: base * factor^(attempt-1), capped at
-- cap and at 100 years (3155760000 s) after the jitter too. Computed in logarithms where the
-- power would overflow.
CREATE OR REPLACE FUNCTION pgtq.backoff(attempt integer, base float8 DEFAULT 1,
                                        factor float8 DEFAULT 2, cap float8 DEFAULT 3600)
RETURNS float8
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
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

-- Claims up to max_count queued tasks of one queue whose names are in task_names (NULL
-- elements match nothing), in (priority, run_at, id) order, skipping rows other workers are
-- claiming right now. The cheap checks run inline; check_claim_args explains a failure.
CREATE OR REPLACE FUNCTION pgtq.claim(queue text, task_names text[], max_count integer,
                                      worker text, lease interval DEFAULT interval '15 seconds')
RETURNS TABLE (id bigint, claim bigint, task text, args jsonb, attempt integer,
               max_attempts integer)
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
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
  RETURN QUERY
  WITH picked AS (
    SELECT l.id FROM pgtq.live_tasks l
     WHERE l.queue = claim.queue AND l.state = 'queued' AND l.task = ANY (task_names)
     ORDER BY l.priority, l.run_at, l.id
     LIMIT max_count
       FOR UPDATE SKIP LOCKED
  ), claimed AS (
    UPDATE pgtq.live_tasks l
       SET state = 'running',
           attempts = CASE WHEN l.attempts < 2147483647 THEN l.attempts + 1 ELSE l.attempts END,
           claims = CASE WHEN l.claims < 9223372036854775807 THEN l.claims + 1 ELSE l.claims END,
           claim = pgtq.new_claim_token(),
           started_at = clock_timestamp(), locked_by = worker,
           locked_until = clock_timestamp() + lease
      FROM picked
     WHERE l.id = picked.id
    RETURNING l.id, l.claim, l.task, l.args, l.attempts, l.max_attempts, l.priority, l.run_at
  )
  SELECT c.id, c.claim, c.task, c.args, c.attempts, c.max_attempts
    FROM claimed c ORDER BY c.priority, c.run_at, c.id;
END $$;

-- Renews the leases of the tasks still held under these claims, each on its own. One row per
-- distinct (id, claim) pair asked about (NULL ids are ignored, a NULL claim is lost):
--   renewed / busy / lost / cancel, as in 0007.
CREATE OR REPLACE FUNCTION pgtq.heartbeat(task_ids bigint[], task_claims bigint[],
                                          lease interval DEFAULT interval '15 seconds')
RETURNS TABLE (id bigint, status text)
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
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
     WHERE l.state = 'running'
       FOR UPDATE OF l SKIP LOCKED
  ), renewed AS (
    UPDATE pgtq.live_tasks l SET locked_until = clock_timestamp() + lease
      FROM lockable k
     WHERE l.id = k.id
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

-- Records many outcomes in one statement batch. outcomes is a JSON array of
--   {"id": n, "claim": n, "status": "done"|"retry"|"fail"|"snooze",
--    "result": json, "error": "text", "retry_in": seconds}
-- as in 0003, plus the limits: result 1 MiB as text and 100 levels deep (an error: pgtqd
-- records the task failed with the reason); error cut to 64 KiB; retry_in clamped to
-- 0 .. 3155760000 (null, negative and "NaN" -> 0, "Infinity" -> 3155760000); errors list kept
-- to its last 100 entries. Every element is checked before anything changes; an id given
-- twice is an error. Returns the ids whose outcome was discarded because their claim is no
-- longer current.
CREATE OR REPLACE FUNCTION pgtq.finish_many(outcomes jsonb) RETURNS SETOF bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  accepted bigint[];
  requeued bigint[];
  wake     text[];
  delayed  boolean;
  dup      bigint;
  given    bigint;
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

  -- o is materialized and counted below, so that every result is checked, including those of
  -- outcomes that match no running task.
  WITH o AS MATERIALIZED (
    SELECT x.id, x.claim, x.status,
           CASE WHEN x.result IS NOT NULL AND x.status = 'done'
                 AND (octet_length(x.result::text) > 1048576
                      OR (pg_column_size(x.result) >= 800 OR pg_column_compression(x.result) IS NOT NULL)
                         AND pgtq.too_deep(x.result))
                THEN pgtq.finish_many_error(outcomes) ELSE x.result END AS result,
           CASE WHEN octet_length(x.error) > 65536 THEN pgtq.clip_error(x.error)
                ELSE x.error END AS error
      FROM jsonb_to_recordset(outcomes)
        AS x(id bigint, claim bigint, status text, result jsonb, error text)
  ), ending AS (
    DELETE FROM pgtq.live_tasks l USING o
     WHERE l.id = o.id AND l.claim = o.claim AND l.state = 'running'
       AND (o.status IN ('done', 'fail') OR l.cancel_requested OR l.attempts >= l.max_attempts
            AND o.status = 'retry')
    RETURNING l.*, o.status AS outcome, o.result AS outcome_result, o.error AS outcome_error
  ), stored AS (
    INSERT INTO pgtq.finished_tasks (id, queue, task, args, state, priority, run_at, attempts,
                                     max_attempts, created_at, started_at, finished_at,
                                     locked_by, result, last_error, errors)
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
                ELSE e.errors END
      FROM ending e
    RETURNING id
  )
  SELECT (SELECT array_agg(id) FROM stored), (SELECT count(*) FROM o) INTO accepted, given;

  -- Most batches hold only "done" outcomes: then there is nothing to schedule again.
  IF outcomes @? '$[*] ? (@.status == "retry" || @.status == "snooze")' THEN
    WITH o AS (
      SELECT x.id, x.claim, x.status,
             CASE WHEN octet_length(x.error) > 65536 THEN pgtq.clip_error(x.error)
                  ELSE x.error END AS error,
             CASE WHEN x.retry_in IS NULL OR x.retry_in = 'NaN' OR x.retry_in <= 0 THEN 0
                  WHEN x.retry_in > 3155760000 THEN 3155760000
                  ELSE x.retry_in END::float8 AS retry_in
        FROM jsonb_to_recordset(outcomes)
          AS x(id bigint, claim bigint, status text, error text, retry_in numeric)
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
       WHERE l.id = o.id AND l.claim = o.claim AND l.state = 'running'
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
  SELECT x.id INTO dup FROM jsonb_to_recordset(outcomes) AS x(id bigint)
   GROUP BY x.id HAVING count(*) > 1 LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'pgtq.finish_many: outcomes name task % more than once', dup
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  RETURN QUERY
  SELECT x.id FROM jsonb_to_recordset(outcomes) AS x(id bigint)
   WHERE x.id <> ALL (coalesce(accepted, '{}') || coalesce(requeued, '{}'));
END $$;

-- Raises unless id and claim are given.
CREATE FUNCTION pgtq.check_id_claim(what text, id bigint, claim bigint) RETURNS void
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF id IS NULL THEN
    RAISE EXCEPTION '%: id must not be NULL', what USING ERRCODE = 'null_value_not_allowed';
  END IF;
  IF claim IS NULL THEN
    RAISE EXCEPTION '%: claim must not be NULL', what USING ERRCODE = 'null_value_not_allowed';
  END IF;
END $$;

CREATE OR REPLACE FUNCTION pgtq.complete(id bigint, claim bigint, result jsonb DEFAULT 'null')
RETURNS boolean
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  PERFORM pgtq.check_id_claim('pgtq.complete', complete.id, complete.claim);
  PERFORM pgtq.check_json_limits('pgtq.complete: result', complete.result);
  RETURN NOT EXISTS (SELECT 1 FROM pgtq.finish_many(jsonb_build_array(jsonb_build_object(
    'id', complete.id, 'claim', complete.claim, 'status', 'done', 'result', complete.result))));
END $$;

-- retry_in NULL: pgtq.backoff(attempt). permanent: fail now, whatever attempts are left.
-- error is cut to 64 KiB like every error.
CREATE OR REPLACE FUNCTION pgtq.fail(id bigint, claim bigint, error text,
                                     retry_in interval DEFAULT NULL,
                                     permanent boolean DEFAULT false)
RETURNS boolean
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
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

-- Run again after delay (0 .. 100 years) without using up an attempt.
CREATE OR REPLACE FUNCTION pgtq.snooze(id bigint, claim bigint, delay interval) RETURNS boolean
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
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

-- As in 0007, with the arrays checked (same length, NULL elements match nothing, a task
-- named twice counts once) and attempts never below 0.
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
    RETURNING l.*
  ), stored AS (
    INSERT INTO pgtq.finished_tasks (id, queue, task, args, state, priority, run_at, attempts,
                                     max_attempts, created_at, started_at, finished_at,
                                     locked_by, result, last_error, errors)
    SELECT e.id, e.queue, e.task, e.args, 'cancelled', e.priority, e.run_at, e.attempts,
           e.max_attempts, e.created_at, e.started_at, clock_timestamp(), e.locked_by, NULL,
           e.last_error, e.errors
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
  WITH gone AS (DELETE FROM pgtq.live_tasks l WHERE l.id = cancel.id RETURNING l.*)
  INSERT INTO pgtq.finished_tasks (id, queue, task, args, state, priority, run_at, attempts,
                                   max_attempts, created_at, started_at, finished_at,
                                   locked_by, result, last_error, errors)
  SELECT g.id, g.queue, g.task, g.args, 'cancelled', g.priority, g.run_at, g.attempts,
         g.max_attempts, g.created_at, g.started_at, clock_timestamp(), g.locked_by, NULL,
         g.last_error, g.errors
    FROM gone g;
  RETURN true;
END $$;

-- The scheduler's work, as in 0007, made proof against any row's values: see the header.
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
      RETURNING l.*
    ), stored AS (
      INSERT INTO pgtq.finished_tasks (id, queue, task, args, state, priority, run_at,
                                       attempts, max_attempts, created_at, started_at,
                                       finished_at, locked_by, result, last_error, errors)
      SELECT e.id, e.queue, e.task, e.args,
             CASE WHEN e.cancel_requested THEN 'cancelled' ELSE 'failed' END::pgtq.task_state,
             e.priority, e.run_at, e.attempts, e.max_attempts, e.created_at, e.started_at,
             clock_timestamp(), e.locked_by, NULL,
             'lease expired: worker ' || coalesce(left(e.locked_by, 1024), '?')
               || ' stopped renewing it',
             CASE WHEN jsonb_typeof(e.errors) = 'array' AND jsonb_array_length(e.errors) < 100
                     THEN e.errors ELSE pgtq.recent_errors(e.errors) END || jsonb_build_array(jsonb_build_object(
               'attempt', e.attempts, 'at', clock_timestamp(),
               'error', 'lease expired: worker ' || coalesce(left(e.locked_by, 1024), '?')
                        || ' stopped renewing it'))
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

-- Claim for a program that works tasks itself, without pgtqd: first the scheduler's work
-- (pgtq.tick: due tasks become queued, expired leases are rescued; skipped at once when
-- another session is doing it), then pgtq.claim. Two index probes decide whether there is
-- any such work, so that a pop pays for the tick only when something is due. pgtqd claims
-- with pgtq.claim and runs tick on its own schedule.
CREATE FUNCTION pgtq.pop(queue text, task_names text[], max_count integer, worker text,
                         lease interval DEFAULT interval '15 seconds')
RETURNS TABLE (id bigint, claim bigint, task text, args jsonb, attempt integer,
               max_attempts integer)
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

-- Deletes finished tasks that ended before the given time, which must be a finite time not
-- in the future. Returns how many.
CREATE OR REPLACE FUNCTION pgtq.prune(finished_before timestamptz) RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  removed bigint;
BEGIN
  IF finished_before IS NULL THEN
    RAISE EXCEPTION 'pgtq.prune: finished_before must not be NULL'
      USING ERRCODE = 'null_value_not_allowed';
  END IF;
  IF NOT isfinite(finished_before) OR finished_before > clock_timestamp() THEN
    RAISE EXCEPTION 'pgtq.prune: finished_before must be a finite time not after now(), got %',
      finished_before USING ERRCODE = 'invalid_parameter_value';
  END IF;
  DELETE FROM pgtq.finished_tasks f WHERE f.finished_at < finished_before;
  GET DIAGNOSTICS removed = ROW_COUNT;
  RETURN removed;
END $$;

-- ---------------------------------------------------------------------------------------
-- What each public function takes, does and refuses, for \df+ and for any client.

COMMENT ON FUNCTION pgtq.push(text, text, jsonb, timestamptz, interval, integer, integer) IS
'Pushes one task; returns its id. queue, task: 1..128 characters of [A-Za-z0-9_.:-]. args: JSON array or object, <= 1 MiB as text, nested <= 100 deep. run_at (default now()) + delay: within 100 years of now(); delay 0..100 years. priority -32768..32767 (smaller first), max_attempts 1..1000. Errors: 22004 NULL, 22023 bad value, 54000 args too large or deep.';
COMMENT ON FUNCTION pgtq.push_many(text, jsonb) IS
'Pushes many tasks in one statement; returns their ids in order. tasks: JSON array of objects with keys task (required), args, priority, max_attempts (JSON integers), run_at, delay (strings); null means the default, other keys are refused. Same limits and errors as pgtq.push; messages name the element.';
COMMENT ON FUNCTION pgtq.claim(text, text[], integer, text, interval) IS
'Claims up to max_count (0..100000) queued tasks of queue named in task_names, in (priority, run_at, id) order, for worker (1..1024 characters) with a lease of 1 second..1 day. Returns id, claim token, task, args, attempt, max_attempts. pgtqd uses it; programs without pgtqd use pgtq.pop. Errors: 22004 NULL, 22023 bad value.';
COMMENT ON FUNCTION pgtq.pop(text, text[], integer, text, interval) IS
'pgtq.claim preceded by the scheduler''s work (pgtq.tick), so that delayed tasks, retries and expired leases reach a program that works tasks without pgtqd. Same arguments, result and errors as pgtq.claim.';
COMMENT ON FUNCTION pgtq.heartbeat(bigint[], bigint[], interval) IS
'Renews leases (1 second..1 day) of the tasks held under (task_ids[i], task_claims[i]); arrays of equal length, <= 100000. One row per distinct pair: renewed, busy (row locked by another session, ask again), lost (stop), cancel (renewed, but stop). Errors: 22004 NULL, 22023 bad value, 54000 too many.';
COMMENT ON FUNCTION pgtq.finish_many(jsonb) IS
'Records outcomes: JSON array of {id, claim, status: done|retry|fail|snooze, result, error, retry_in (seconds)}. result <= 1 MiB as text, <= 100 deep (54000); error cut to 64 KiB; retry_in clamped to 0..3155760000; errors list keeps the last 100 entries. An id twice, an unknown key or a wrong JSON type: 22023, nothing recorded. Returns the ids whose claim was no longer current.';
COMMENT ON FUNCTION pgtq.complete(bigint, bigint, jsonb) IS
'Marks a claimed task succeeded with result (any JSON, <= 1 MiB as text, <= 100 deep; 54000 otherwise). False: the claim is no longer current, nothing changed. Errors: 22004 NULL id or claim.';
COMMENT ON FUNCTION pgtq.fail(bigint, bigint, text, interval, boolean) IS
'Records error (not NULL; cut to 64 KiB) for a claimed task: retried after retry_in (0..100 years; NULL: pgtq.backoff) while attempts are left, failed otherwise or when permanent. False: claim no longer current. Errors: 22004 NULL, 22023 retry_in out of range.';
COMMENT ON FUNCTION pgtq.snooze(bigint, bigint, interval) IS
'Runs a claimed task again after delay (0..100 years) without using up an attempt. False: claim no longer current. Errors: 22004 NULL, 22023 delay out of range.';
COMMENT ON FUNCTION pgtq.release(bigint[], bigint[]) IS
'Gives claimed tasks back unfinished: queued again, attempt given back (a task whose cancellation was requested ends cancelled). Arrays of equal length; NULL elements match nothing; a task named twice counts once. Returns how many were still held. Errors: 22004 NULL array, 22023 lengths differ.';
COMMENT ON FUNCTION pgtq.cancel(bigint) IS
'Cancels a task: a waiting one ends cancelled, a running one is asked to stop (NOTIFY pgtq_cancel). False: unknown or already finished. Errors: 22004 NULL id.';
COMMENT ON FUNCTION pgtq.tick(integer) IS
'The scheduler''s work, at most max_count (1..100000) rows per sweep: due scheduled tasks become queued, expired leases are rescued or failed. One session at a time (advisory lock); others return zeros. next_due: the earliest scheduled run_at, kept within 100 years of now. Errors: 22004 NULL, 22023 out of range.';
COMMENT ON FUNCTION pgtq.prune(timestamptz) IS
'Deletes finished tasks that ended before finished_before (finite, not in the future); returns how many. Errors: 22004 NULL, 22023 infinite or future.';
COMMENT ON FUNCTION pgtq.backoff(integer, float8, float8, float8) IS
'Exponential backoff in seconds: base * factor^(attempt-1), capped at cap and at 3155760000 (100 years), +-20 % jitter. attempt >= 0, base finite >= 0, factor finite >= 1, cap >= 0; NaN refused. Errors: 22004 NULL, 22023 bad value.';
