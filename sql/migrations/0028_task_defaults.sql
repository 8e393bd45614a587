-- Defaults for new tasks per queue: pgtq.set_task_defaults(queue, priority, max_attempts,
-- timeout) stores them in pgtq.queues; pgtq.push and both forms of pgtq.push_many take them
-- where a push gives none (push's priority and max_attempts now default to NULL: the queue's
-- default, else 0 and 5 as before). reset_queue removes them with the rest of the queue's row.

ALTER TABLE pgtq.queues
  ADD COLUMN default_priority integer
    CONSTRAINT queues_default_priority CHECK (default_priority BETWEEN -32768 AND 32767),
  ADD COLUMN default_max_attempts integer
    CONSTRAINT queues_default_max_attempts CHECK (default_max_attempts BETWEEN 1 AND 1000),
  ADD COLUMN default_timeout interval
    CONSTRAINT queues_default_timeout CHECK (extract(year FROM default_timeout) = 0
                                             AND extract(month FROM default_timeout) = 0
                                             AND default_timeout > interval '0'
                                             AND default_timeout <= interval '365 days');
COMMENT ON TABLE pgtq.queues IS
  'Queue settings: paused (no claims while true, pushes still accepted), global_concurrency (at most this many tasks running at once across every worker; NULL: no limit), rate_limit per rate_period (at most this many tasks claimed in any window of that length; NULL: no limit), key_concurrency (at most this many tasks of one fairness key running at once; NULL: no limit), default_priority, default_max_attempts and default_timeout (what a push that gives none stores; NULL: 0, 5 and none). A queue without a row has the defaults.';

CREATE OR REPLACE FUNCTION pgtq.push(
  queue         text,
  task          text,
  args          jsonb DEFAULT '[]',
  run_at        timestamptz DEFAULT NULL,
  delay         interval DEFAULT NULL,
  priority      integer DEFAULT NULL,
  max_attempts  integer DEFAULT NULL,
  timeout       interval DEFAULT NULL,
  unique_key    text DEFAULT NULL,
  unique_states pgtq.task_state[] DEFAULT NULL,
  unique_period interval DEFAULT NULL,
  on_conflict   text DEFAULT 'ignore',
  fairness_key  text DEFAULT NULL
) RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  start_at timestamptz;
  due      boolean;
  new_id   bigint;
  waiting  boolean; -- a worker (due) or scheduler (delayed) waits to be woken
  states   pgtq.task_state[];
  given_priority     integer; -- the queue's defaults where the push gives none (unique keys)
  given_max_attempts integer;
  given_timeout      interval;
BEGIN
  -- Every rule as one expression, evaluated without a query; only a push that breaks one
  -- pays for the plpgsql checks that say which (each PERFORM is a query of its own).
  IF NOT coalesce(push.queue ~ '^[A-Za-z0-9_.:-]+$' AND length(push.queue) <= 128
                  AND push.task ~ '^[A-Za-z0-9_.:-]+$' AND length(push.task) <= 128
                  AND jsonb_typeof(push.args) IN ('array', 'object')
                  AND octet_length(push.args::text) <= 1048576
                  AND (pg_column_size(push.args) < 800 AND pg_column_compression(push.args) IS NULL
                       OR NOT pgtq.too_deep(push.args))
                  AND (push.priority IS NULL OR push.priority BETWEEN -32768 AND 32767)
                  AND (push.max_attempts IS NULL OR push.max_attempts BETWEEN 1 AND 1000)
                  AND (push.run_at IS NULL
                       OR isfinite(push.run_at)
                          AND push.run_at BETWEEN now() - interval '100 years'
                                              AND now() + interval '100 years')
                  AND (push.delay IS NULL OR pgtq.delay_ok(push.delay))
                  AND (push.timeout IS NULL OR pgtq.timeout_ok(push.timeout))
                  AND (push.fairness_key IS NULL
                       OR octet_length(push.fairness_key) BETWEEN 1 AND 1024), false) THEN
    PERFORM pgtq.check_name('queue', push.queue);
    PERFORM pgtq.check_task(push.task, push.args, coalesce(push.priority, 0),
                            coalesce(push.max_attempts, 5));
    PERFORM pgtq.start_time('pgtq.push: ', push.run_at, push.delay);
    PERFORM pgtq.check_timeout('pgtq.push: timeout', push.timeout);
    PERFORM pgtq.check_fairness_key('pgtq.push: fairness_key', push.fairness_key);
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
    SELECT coalesce(push.priority, q.default_priority, 0),
           coalesce(push.max_attempts, q.default_max_attempts, 5),
           coalesce(push.timeout, q.default_timeout)
      INTO given_priority, given_max_attempts, given_timeout
      FROM (SELECT 1) AS one LEFT JOIN pgtq.queues q ON q.queue = push.queue;
    SELECT u.id, u.written INTO new_id, waiting
      FROM pgtq.insert_unique('pgtq.push: ', push.queue, push.task, push.args, start_at,
                              given_priority, given_max_attempts, given_timeout,
                              push.unique_key, states, push.unique_period, push.on_conflict,
                              push.fairness_key) AS u;
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
  -- The queue's defaults in the same statement: one probe of pgtq.queues' primary key, and
  -- none when the push gives all three.
  INSERT INTO pgtq.live_tasks AS l (queue, task, args, state, priority, run_at, max_attempts,
                                    timeout, fairness_key)
  SELECT push.queue, push.task, push.args,
         CASE WHEN due THEN 'queued' ELSE 'scheduled' END::pgtq.task_state,
         coalesce(push.priority, q.default_priority, 0), start_at,
         coalesce(push.max_attempts, q.default_max_attempts, 5),
         coalesce(push.timeout, q.default_timeout), push.fairness_key
    FROM (SELECT 1) AS one
    LEFT JOIN pgtq.queues q
      ON q.queue = push.queue
     AND (push.priority IS NULL OR push.max_attempts IS NULL OR push.timeout IS NULL)
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
COMMENT ON FUNCTION pgtq.push(text, text, jsonb, timestamptz, interval, integer, integer, interval, text, pgtq.task_state[], interval, text, text) IS
'Pushes one task; returns its id. queue, task: 1..128 characters of [A-Za-z0-9_.:-]. args: JSON array or object, <= 1 MiB as text, nested <= 100 deep. run_at (default now()) + delay: within 100 years of now(); delay 0..100 years. priority -32768..32767 (smaller first; NULL: the queue''s default_priority, else 0), max_attempts 1..1000 (NULL: the queue''s default_max_attempts, else 5). timeout: how long each attempt may run, more than 0 and at most 365 days (NULL: the queue''s default_timeout, else the task name''s, else pgtqd''s task-timeout). unique_key (1..1024 bytes): no other task of the queue with this key may count, that is be live, or be in a finished state of unique_states (which must include queued, scheduled and running; default those, plus succeeded when unique_period is given) and have ended within unique_period (more than 0, at most 100 years; NULL: ever; a live holder is answered before a finished one). on_conflict when one counts: ignore (return its id), replace (a queued or scheduled one takes this push''s task name, args, priority, run_at, max_attempts, timeout and fairness_key; its id is returned), raise. fairness_key (1..1024 bytes; NULL: none): claims of the queue take turns between keys, and the queue''s key_concurrency caps each key''s running tasks. Errors: 22004 NULL, 22023 bad value, 23505 unique key held (raise), 54000 args too large or deep.';

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
                THEN (e.elem->>'timeout')::interval END AS timeout,
           CASE WHEN jsonb_typeof(e.elem->'fairness_key') = 'string'
                THEN e.elem->>'fairness_key' END AS fairness_key
      FROM jsonb_array_elements(tasks) WITH ORDINALITY AS e(elem, ord)
  ), checked AS (
    -- The rules of check_task and start_time as expressions; CASE keeps the order, so a cast
    -- below only sees a value that passed. The name pattern has no {1,128} bound (0006).
    SELECT s.* FROM spec s
     WHERE CASE WHEN jsonb_typeof(s.elem) = 'object'
                 AND s.elem - '{task,args,priority,max_attempts,run_at,delay,timeout,fairness_key}'::text[]
                     = '{}'::jsonb
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
                 AND coalesce(jsonb_typeof(s.elem->'fairness_key'), 'null') IN ('null', 'string')
                 AND coalesce(octet_length(s.fairness_key) BETWEEN 1 AND 1024, true)
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
                                      timeout, fairness_key)
    SELECT push_many.queue, c.task, c.args,
           CASE WHEN coalesce(c.run_at, now()) + coalesce(c.delay, interval '0') <= now()
                THEN 'queued' ELSE 'scheduled' END::pgtq.task_state,
           CASE WHEN jsonb_typeof(c.priority) = 'number' THEN c.priority::integer
                ELSE coalesce(d.default_priority, 0) END,
           coalesce(c.run_at, now()) + coalesce(c.delay, interval '0'),
           CASE WHEN jsonb_typeof(c.max_attempts) = 'number' THEN c.max_attempts::integer
                ELSE coalesce(d.default_max_attempts, 5) END,
           coalesce(c.timeout, d.default_timeout), c.fairness_key
      FROM checked c LEFT JOIN pgtq.queues d ON d.queue = push_many.queue
     ORDER BY c.ord
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
'Pushes many tasks in one statement; returns their ids in order. tasks: JSON array of objects with keys task (required), args, priority, max_attempts (JSON integers), run_at, delay, timeout, fairness_key (strings); null means the default (the queue''s, as for pgtq.push), other keys are refused. Same limits and errors as pgtq.push; messages name the element.';

CREATE OR REPLACE FUNCTION pgtq.push_many(queue text, tasks text[], args jsonb[],
                               priorities integer[] DEFAULT NULL,
                               max_attempts integer[] DEFAULT NULL,
                               run_at timestamptz[] DEFAULT NULL,
                               delays interval[] DEFAULT NULL,
                               timeouts interval[] DEFAULT NULL,
                               unique_keys text[] DEFAULT NULL,
                               unique_states pgtq.task_state[] DEFAULT NULL,
                               unique_period interval DEFAULT NULL,
                               on_conflict text DEFAULT 'ignore',
                               fairness_keys text[] DEFAULT NULL)
RETURNS SETOF bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  given     integer := cardinality(push_many.tasks);
  ids       bigint[];
  any_due        boolean;
  earliest_later timestamptz; -- the earliest run_at of the delayed tasks
  i         integer;
  at        integer;            -- the element being pushed (keyed calls)
  failure   text;
  failure_state text;
BEGIN
  IF fairness_keys IS NOT NULL THEN
    PERFORM pgtq.check_fairness_keys('pgtq.push_many: fairness_keys', fairness_keys, given);
  END IF;
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
    -- raise: a key twice in the call is refused here, naming both elements (pushed one after
    -- the other, the second would name the first's task, which the error then rolls back).
    IF on_conflict = 'raise' THEN
      SELECT d.first, d.second INTO i, at
        FROM (SELECT min(k.n) AS first, (array_agg(k.n ORDER BY k.n))[2] AS second
                FROM unnest(unique_keys) WITH ORDINALITY AS k(key, n)
               WHERE k.key IS NOT NULL GROUP BY k.key HAVING count(*) > 1) d
       ORDER BY d.second LIMIT 1;
      IF i IS NOT NULL THEN
        RAISE EXCEPTION 'pgtq.push_many: unique_keys[%] repeats unique_keys[%] ("%") and '
          'on_conflict is raise', at, i, unique_keys[i] USING ERRCODE = 'unique_violation';
      END IF;
    END IF;
    -- pgtq.push's errors (a key held, with raise) name the element's key. One block for the whole
    -- loop: a subtransaction per call, not per element.
    BEGIN
      FOR i IN 1 .. given LOOP
        at := i;
        ids := ids || pgtq.push(push_many.queue, push_many.tasks[i],
                                coalesce(push_many.args[i], '[]'), push_many.run_at[i],
                                delays[i], priorities[i], push_many.max_attempts[i], timeouts[i],
                                unique_keys[i],
                                CASE WHEN unique_keys[i] IS NOT NULL THEN unique_states END,
                                CASE WHEN unique_keys[i] IS NOT NULL THEN unique_period END,
                                CASE WHEN unique_keys[i] IS NOT NULL THEN on_conflict
                                     ELSE 'ignore' END,
                                fairness_keys[i]);
      END LOOP;
    EXCEPTION WHEN unique_violation OR invalid_parameter_value THEN
      GET STACKED DIAGNOSTICS failure = MESSAGE_TEXT, failure_state = RETURNED_SQLSTATE;
      RAISE EXCEPTION 'pgtq.push_many: unique_keys[%]: %', at,
        regexp_replace(failure, '^pgtq\.push: ', '') USING ERRCODE = failure_state;
    END;
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
           s.run_at, s.delay, s.timeout, s.fairness_key
      FROM unnest(push_many.tasks, push_many.args, coalesce(priorities, '{}'), coalesce(push_many.max_attempts, '{}'),
                  coalesce(push_many.run_at, '{}'), coalesce(delays, '{}'), coalesce(timeouts, '{}'),
                  coalesce(fairness_keys, '{}'))
           WITH ORDINALITY AS s(task, args, priority, max_attempts, run_at, delay, timeout,
                                fairness_key, ord)
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
                                      timeout, fairness_key)
    SELECT push_many.queue, c.task, c.args,
           CASE WHEN coalesce(c.run_at, now()) + coalesce(c.delay, interval '0') <= now()
                THEN 'queued' ELSE 'scheduled' END::pgtq.task_state,
           coalesce(c.priority, d.default_priority, 0),
           coalesce(c.run_at, now()) + coalesce(c.delay, interval '0'),
           coalesce(c.max_attempts, d.default_max_attempts, 5),
           coalesce(c.timeout, d.default_timeout), c.fairness_key
      FROM checked c LEFT JOIN pgtq.queues d ON d.queue = push_many.queue
     ORDER BY c.ord
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
COMMENT ON FUNCTION pgtq.push_many(text, text[], jsonb[], integer[], integer[], timestamptz[], interval[], interval[], text[], pgtq.task_state[], interval, text, text[]) IS
'Pushes tasks[i] with args[i] (NULL: []; a JSON array or object, <= 1 MiB as text, <= 100 deep) and optional priorities[i] (-32768..32767), max_attempts[i] (1..1000), timeouts[i] (more than 0, at most 365 days) (NULL: the queue''s default, as for pgtq.push), run_at[i] and delays[i] (the start within 100 years of now; NULL: none), unique_keys[i] (as pgtq.push''s unique_key; NULL: none), fairness_keys[i] (as pgtq.push''s fairness_key; NULL: none); every given array as long as tasks, at most 100000. unique_states, unique_period and on_conflict: as pgtq.push, for every task with a key; such calls push one task at a time. Returns the ids in order (of a task whose key was held: the holder''s); at most one NOTIFY. All or nothing. Errors: 22004 NULL tasks, args or task name, 22023 bad value or lengths, 23505 unique key held (raise), 54000 over a limit.';

CREATE FUNCTION pgtq.set_task_defaults(queue text, priority integer, max_attempts integer,
                                       timeout interval) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  PERFORM pgtq.check_name('queue', set_task_defaults.queue);
  IF priority NOT BETWEEN -32768 AND 32767 THEN
    RAISE EXCEPTION 'pgtq.set_task_defaults: priority must be -32768..32767 (NULL: 0), got %',
      priority USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF max_attempts NOT BETWEEN 1 AND 1000 THEN
    RAISE EXCEPTION 'pgtq.set_task_defaults: max_attempts must be 1..1000 (NULL: 5), got %',
      max_attempts USING ERRCODE = 'invalid_parameter_value';
  END IF;
  PERFORM pgtq.check_timeout('pgtq.set_task_defaults: timeout', timeout);
  INSERT INTO pgtq.queues AS q (queue, default_priority, default_max_attempts, default_timeout)
  VALUES (set_task_defaults.queue, priority, max_attempts, timeout)
  ON CONFLICT ON CONSTRAINT queues_pkey
  DO UPDATE SET default_priority = excluded.default_priority,
                default_max_attempts = excluded.default_max_attempts,
                default_timeout = excluded.default_timeout, changed_at = now();
END $$;
COMMENT ON FUNCTION pgtq.set_task_defaults(text, integer, integer, interval) IS
'What a push to queue that gives none of its own stores: priority (-32768..32767), max_attempts (1..1000), timeout (more than 0, at most 365 days); NULL: 0, 5, none (the task name''s timeout, else pgtqd''s). Sets all three; tasks already pushed keep theirs. Errors: 22004 NULL queue, 22023 bad name or value.';

COMMENT ON FUNCTION pgtq.reset_queue(text) IS
'Puts queue''s settings back to the defaults: resumed, no limits, no task defaults, no retention rules of its own; its pgtq.queues row goes. Wakes its waiting workers. Returns true when there was anything to reset. Errors: 22004 NULL, 22023 bad name.';
