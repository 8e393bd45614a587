-- Fairness keys: push's fairness_key (push_many's fairness_keys, a "fairness_key" in
-- push_many's JSON elements) is kept on the task and in its history. While queued tasks of a
-- queue carry keys, pgtq.claim takes the queue's turn and pgtq.fair_pick serves the keys in
-- turn, from where the last fair claim of the queue and its task names stopped
-- (pgtq.fairness_cursors). pgtq.set_key_concurrency limits the running tasks of each key
-- (pgtq.queues.key_concurrency); finish_many, tick, release and cancel wake a queue with such
-- a limit when its tasks stop running. A claim that takes a turn reads the clock once, for
-- both the rate window's entry and its tasks' started_at, so that the starts the tasks show
-- never hold more than the limit in a window.
--
-- The claim index now holds the queued tasks without a key, and live_tasks_fair those with
-- one: each queued task is in one of them, so a push without a key costs what it did. The
-- index is rebuilt here, holding live_tasks' lock for as long as that takes (queued tasks
-- only; a large backlog makes it longer).

ALTER TABLE pgtq.live_tasks ADD COLUMN fairness_key text;
COMMENT ON COLUMN pgtq.live_tasks.fairness_key IS
  'The task''s fairness key (push''s fairness_key: a tenant, a customer): claims take turns between a queue''s keys, and pgtq.queues.key_concurrency caps each key''s running tasks.';
ALTER TABLE pgtq.live_tasks ADD CONSTRAINT live_tasks_fairness_key
  CHECK (octet_length(fairness_key) BETWEEN 1 AND 1024);
ALTER TABLE pgtq.finished_tasks ADD COLUMN fairness_key text;

DROP INDEX pgtq.live_tasks_claim;
CREATE INDEX live_tasks_claim ON pgtq.live_tasks (queue, priority, run_at, id)
  WHERE state = 'queued' AND fairness_key IS NULL;
CREATE INDEX live_tasks_fair ON pgtq.live_tasks (queue, fairness_key, priority, run_at, id)
  WHERE state = 'queued' AND fairness_key IS NOT NULL;
CREATE INDEX live_tasks_key_running ON pgtq.live_tasks (queue, fairness_key)
  WHERE state = 'running' AND fairness_key IS NOT NULL;

ALTER TABLE pgtq.queues ADD COLUMN key_concurrency integer
  CONSTRAINT queues_key_concurrency CHECK (key_concurrency BETWEEN 1 AND 100000);
COMMENT ON TABLE pgtq.queues IS
  'Queue settings: paused (no claims while true, pushes still accepted), global_concurrency (at most this many tasks running at once across every worker; NULL: no limit), rate_limit per rate_period (at most this many tasks claimed in any window of that length; NULL: no limit), key_concurrency (at most this many tasks of one fairness key running at once; NULL: no limit). A queue without a row has the defaults.';

CREATE TABLE pgtq.fairness_cursors (
  queue    text NOT NULL,
  task_set bigint NOT NULL,
  last_key text NOT NULL,
  PRIMARY KEY (queue, task_set)
);
COMMENT ON TABLE pgtq.fairness_cursors IS
  'Where the fair claims of each queue and set of task names left off: the fairness key served last ('''' for tasks without a key).';

-- One more argument: the old signatures go (a call naming only the old arguments resolves
-- to the new ones, whose last default is NULL).
DROP FUNCTION pgtq.push(text, text, jsonb, timestamptz, interval, integer, integer, interval,
                        text, pgtq.task_state[], interval, text);
DROP FUNCTION pgtq.push_many(text, text[], jsonb[], integer[], integer[], timestamptz[],
                             interval[], interval[], text[], pgtq.task_state[], interval, text);
DROP FUNCTION pgtq.insert_unique(text, text, text, jsonb, timestamptz, integer, integer,
                                 interval, text, pgtq.task_state[], interval, text);

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
                  AND (push.timeout IS NULL OR pgtq.timeout_ok(push.timeout))
                  AND (push.fairness_key IS NULL
                       OR octet_length(push.fairness_key) BETWEEN 1 AND 1024), false) THEN
    PERFORM pgtq.check_name('queue', push.queue);
    PERFORM pgtq.check_task(push.task, push.args, push.priority, push.max_attempts);
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
    SELECT u.id, u.written INTO new_id, waiting
      FROM pgtq.insert_unique('pgtq.push: ', push.queue, push.task, push.args, start_at,
                              push.priority, push.max_attempts, push.timeout, push.unique_key,
                              states, push.unique_period, push.on_conflict,
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
  INSERT INTO pgtq.live_tasks AS l (queue, task, args, state, priority, run_at, max_attempts,
                                    timeout, fairness_key)
  VALUES (push.queue, push.task, push.args,
          CASE WHEN due THEN 'queued' ELSE 'scheduled' END::pgtq.task_state,
          push.priority, start_at, push.max_attempts, push.timeout, push.fairness_key)
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
'Pushes one task; returns its id. queue, task: 1..128 characters of [A-Za-z0-9_.:-]. args: JSON array or object, <= 1 MiB as text, nested <= 100 deep. run_at (default now()) + delay: within 100 years of now(); delay 0..100 years. priority -32768..32767 (smaller first), max_attempts 1..1000. timeout: how long each attempt may run, more than 0 and at most 365 days (NULL: the task name''s, else pgtqd''s task-timeout). unique_key (1..1024 bytes): no other task of the queue with this key may count, that is be live, or be in a finished state of unique_states (which must include queued, scheduled and running; default those, plus succeeded when unique_period is given) and have ended within unique_period (more than 0, at most 100 years; NULL: ever; a live holder is answered before a finished one). on_conflict when one counts: ignore (return its id), replace (a queued or scheduled one takes this push''s task name, args, priority, run_at, max_attempts, timeout and fairness_key; its id is returned), raise. fairness_key (1..1024 bytes; NULL: none): claims of the queue take turns between keys, and the queue''s key_concurrency caps each key''s running tasks. Errors: 22004 NULL, 22023 bad value, 23505 unique key held (raise), 54000 args too large or deep.';

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
   WHERE k NOT IN ('task', 'args', 'priority', 'max_attempts', 'run_at', 'delay', 'timeout',
                   'fairness_key')
   LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION '%unknown key "%" (known: task, args, priority, max_attempts, run_at, delay, timeout, fairness_key)',
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
  FOREACH field IN ARRAY ARRAY['run_at', 'delay', 'timeout', 'fairness_key'] LOOP
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
  PERFORM pgtq.check_fairness_key(what || 'fairness_key', elem->>'fairness_key');
  RAISE EXCEPTION '%invalid', what USING ERRCODE = 'invalid_parameter_value';
END $$;

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
           CASE WHEN jsonb_typeof(c.priority) = 'number' THEN c.priority::integer ELSE 0 END,
           coalesce(c.run_at, now()) + coalesce(c.delay, interval '0'),
           CASE WHEN jsonb_typeof(c.max_attempts) = 'number' THEN c.max_attempts::integer ELSE 5 END,
           c.timeout, c.fairness_key
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
'Pushes many tasks in one statement; returns their ids in order. tasks: JSON array of objects with keys task (required), args, priority, max_attempts (JSON integers), run_at, delay, timeout, fairness_key (strings); null means the default, other keys are refused. Same limits and errors as pgtq.push; messages name the element.';

CREATE FUNCTION pgtq.push_many(queue text, tasks text[], args jsonb[],
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
                                delays[i], coalesce(priorities[i], 0),
                                coalesce(push_many.max_attempts[i], 5), timeouts[i],
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
           coalesce(c.priority, 0),
           coalesce(c.run_at, now()) + coalesce(c.delay, interval '0'),
           coalesce(c.max_attempts, 5), c.timeout, c.fairness_key
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
COMMENT ON FUNCTION pgtq.push_many(text, text[], jsonb[], integer[], integer[], timestamptz[], interval[], interval[], text[], pgtq.task_state[], interval, text, text[]) IS
'Pushes tasks[i] with args[i] (NULL: []; a JSON array or object, <= 1 MiB as text, <= 100 deep) and optional priorities[i] (-32768..32767, NULL: 0), max_attempts[i] (1..1000, NULL: 5), run_at[i] and delays[i] (the start within 100 years of now; NULL: none), timeouts[i] (more than 0, at most 365 days; NULL: none), unique_keys[i] (as pgtq.push''s unique_key; NULL: none), fairness_keys[i] (as pgtq.push''s fairness_key; NULL: none); every given array as long as tasks, at most 100000. unique_states, unique_period and on_conflict: as pgtq.push, for every task with a key; such calls push one task at a time. Returns the ids in order (of a task whose key was held: the holder''s); at most one NOTIFY. All or nothing. Errors: 22004 NULL tasks, args or task name, 22023 bad value or lengths, 23505 unique key held (raise), 54000 over a limit.';

CREATE FUNCTION pgtq.insert_unique(what text, queue text, task text, args jsonb,
                                   start_at timestamptz, priority integer, max_attempts integer,
                                   timeout interval, unique_key text,
                                   states pgtq.task_state[], period interval, on_conflict text,
                                   fairness_key text, OUT id bigint, OUT written boolean)
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
                                        timeout, unique_key, fairness_key)
      VALUES (insert_unique.queue, insert_unique.task, insert_unique.args,
              CASE WHEN start_at <= now() THEN 'queued' ELSE 'scheduled' END::pgtq.task_state,
              insert_unique.priority, start_at, insert_unique.max_attempts,
              insert_unique.timeout, insert_unique.unique_key, insert_unique.fairness_key)
      ON CONFLICT (queue, unique_key) WHERE unique_key IS NOT NULL DO UPDATE
        SET task = excluded.task, args = excluded.args, state = excluded.state,
            priority = excluded.priority, run_at = excluded.run_at,
            max_attempts = excluded.max_attempts, timeout = excluded.timeout,
            fairness_key = excluded.fairness_key
        WHERE l.state IN ('queued', 'scheduled')
      RETURNING l.id, l.xmax = 0 INTO id, inserted;
    ELSE
      INSERT INTO pgtq.live_tasks AS l (queue, task, args, state, priority, run_at, max_attempts,
                                        timeout, unique_key, fairness_key)
      VALUES (insert_unique.queue, insert_unique.task, insert_unique.args,
              CASE WHEN start_at <= now() THEN 'queued' ELSE 'scheduled' END::pgtq.task_state,
              insert_unique.priority, start_at, insert_unique.max_attempts,
              insert_unique.timeout, insert_unique.unique_key, insert_unique.fairness_key)
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
  keyed      boolean := false; -- queued tasks of the queue carry fairness keys
  limited    boolean;
  key_cap    integer;
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
      picked := pgtq.fair_pick(claim.queue, task_names, take, key_cap);
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
                 FOR UPDATE SKIP LOCKED) p;
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
    SELECT q.paused, q.global_concurrency, q.rate_limit, q.rate_period, q.key_concurrency
      INTO stopped, cap, rate, per, key_cap FROM pgtq.queues q WHERE q.queue = claim.queue;
    EXIT WHEN stopped;
    room := max_count + 1;
    IF cap IS NOT NULL THEN
      SELECT least(room, cap - count(*)) INTO room FROM pgtq.live_tasks l
       WHERE l.state = 'running' AND l.queue = claim.queue;
    END IF;
    IF rate IS NOT NULL THEN
      SELECT least(room, rate - coalesce(sum(s.n), 0)) INTO room
        FROM pgtq.queues q, unnest(q.rate_starts, q.rate_counts) AS s(at, n)
       WHERE q.queue = claim.queue AND s.at > turn_at - per;
    END IF;
    take := greatest(least(max_count, room), 0);
    capped := true;
    EXIT WHEN take = 0;
  END LOOP;
  IF capped AND picked IS NOT NULL THEN
    IF rate IS NOT NULL THEN
      -- The window: the claims of the last period, and this one. A claim within 1/64 of the
      -- period of the window's last entry joins it, and the entry takes this claim's time:
      -- it counts until the last of its claims leaves the window, so the limit is never
      -- overshot (it may be undershot by 1/64 of a period), and the window keeps at most
      -- about 65 entries whatever the rate.
      UPDATE pgtq.queues q
         SET (rate_starts, rate_counts) =
             (SELECT CASE WHEN w.joins THEN w.ats[1:cardinality(w.ats) - 1] ELSE w.ats END
                       || turn_at,
                     CASE WHEN w.joins
                          THEN w.ns[1:cardinality(w.ns) - 1]
                               || (w.ns[cardinality(w.ns)] + cardinality(picked))
                          ELSE w.ns || cardinality(picked) END
                FROM (SELECT k.ats, k.ns,
                             k.ats[cardinality(k.ats)] > turn_at - per / 64 AS joins
                        FROM (SELECT coalesce(array_agg(s.at ORDER BY s.at), '{}') AS ats,
                                     coalesce(array_agg(s.n ORDER BY s.at), '{}') AS ns
                                FROM unnest(q.rate_starts, q.rate_counts) AS s(at, n)
                               WHERE s.at > turn_at - per) k) w)
       WHERE q.queue = claim.queue;
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
'Claims up to max_count (0..100000) queued tasks of queue named in task_names, in (priority, run_at, id) order (none while the queue is paused; with a global concurrency limit, at most the limit less the running tasks of the queue; with a rate limit, at most the limit less the tasks claimed in the last rate_period; while queued tasks carry fairness keys, the keys take turns, each key at most the queue''s key_concurrency running; claims of a limited or fair queue take turns; call it in READ COMMITTED), for worker (1..1024 characters) with a lease of 1 second..1 day. Returns id, claim token (random, 64 bits), task, args, attempt, max_attempts, timeout (the push''s, NULL if none). pgtqd uses it; programs without pgtqd use pgtq.pop. Errors: 22004 NULL, 22023 bad value.';

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
           (ended).timeout, (ended).unique_key, (ended).fairness_key)::pgtq.finished_tasks;

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

CREATE OR REPLACE FUNCTION pgtq.tick(max_count integer DEFAULT 10000,
                          OUT promoted integer, OUT rescued integer,
                          OUT failed integer, OUT next_due timestamptz)
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  wake        text[];
  rescue_wake text[];
  ended       text[]; -- the queues of the expired tasks that ended
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
      RETURNING queue
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
           (SELECT array_agg(DISTINCT queue) FROM back), (SELECT array_agg(queue) FROM stored)
      INTO rescued, failed, rescue_wake, ended;
    IF ended IS NOT NULL THEN
      PERFORM pgtq.wake_limited(ended); -- a failed task of a limited queue leaves room
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
    DELETE FROM pgtq.workers w
     WHERE (w.worker, w.queue) IN (SELECT g.worker, g.queue FROM pgtq.workers g
                                    WHERE g.last_seen < clock_timestamp() - interval '1 day'
                                      FOR UPDATE SKIP LOCKED);
  END IF;
  -- A row written straight into the table may say 'infinity' or year 294276: the caller
  -- subtracts the time from now, so next_due keeps it within 100 years of now.
  next_due := pgtq.next_due();
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
                                      errors, timeout, unique_key, fairness_key)
    SELECT f.id, f.queue, f.task, f.args,
           CASE WHEN start_at <= now() THEN 'queued' ELSE 'scheduled' END::pgtq.task_state,
           f.priority, start_at, f.attempts,
           greatest(f.max_attempts, least(f.attempts, 2147483646) + 1), f.attempts, f.created_at,
           f.started_at, f.last_error, f.errors, f.timeout, f.unique_key, f.fairness_key
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

CREATE OR REPLACE FUNCTION pgtq.wake_limited(queues text[]) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  PERFORM pgtq.wake_queue(q.queue) FROM pgtq.queues q
   WHERE (q.global_concurrency IS NOT NULL OR q.key_concurrency IS NOT NULL) AND NOT q.paused
     AND q.queue = ANY (queues);
END $$;

CREATE OR REPLACE FUNCTION pgtq.reset_queue(queue text) RETURNS boolean
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  settings integer;
  rules    integer;
BEGIN
  PERFORM pgtq.check_name('queue', reset_queue.queue);
  DELETE FROM pgtq.queues q WHERE q.queue = reset_queue.queue;
  GET DIAGNOSTICS settings = ROW_COUNT;
  DELETE FROM pgtq.retention r WHERE r.queue = reset_queue.queue;
  GET DIAGNOSTICS rules = ROW_COUNT;
  DELETE FROM pgtq.fairness_cursors c WHERE c.queue = reset_queue.queue;
  IF settings > 0 THEN
    PERFORM pgtq.wake_queue(reset_queue.queue);
  END IF;
  RETURN settings + rules > 0;
END $$;

CREATE OR REPLACE VIEW pgtq.tasks AS
  SELECT id, queue, task, args, state, priority, run_at, attempts, max_attempts,
         created_at, started_at, NULL::timestamptz AS finished_at, locked_by, locked_until,
         NULL::jsonb AS result, last_error, errors, timeout, unique_key, fairness_key
    FROM pgtq.live_tasks
  UNION ALL
  SELECT id, queue, task, args, state, priority, run_at, attempts, max_attempts,
         created_at, started_at, finished_at, locked_by, NULL::timestamptz AS locked_until,
         result, last_error, errors, timeout, unique_key, fairness_key
    FROM pgtq.finished_tasks;

CREATE OR REPLACE VIEW pgtq.queue_stats AS
  WITH live AS (
    SELECT l.queue,
           count(*) FILTER (WHERE l.state = 'queued') AS queued,
           count(*) FILTER (WHERE l.state = 'scheduled') AS scheduled,
           count(*) FILTER (WHERE l.state = 'running') AS running,
           min(l.run_at) FILTER (WHERE l.state = 'queued') AS oldest_queued_at,
           count(DISTINCT l.fairness_key) FILTER (WHERE l.state = 'queued') AS queued_keys
      FROM pgtq.live_tasks l GROUP BY l.queue
  ), recent AS (
    SELECT f.queue,
           count(*) FILTER (WHERE f.state = 'succeeded') AS succeeded,
           count(*) FILTER (WHERE f.state = 'failed') AS failed,
           count(*) FILTER (WHERE f.state = 'cancelled') AS cancelled
      FROM pgtq.finished_tasks f
     WHERE f.finished_at > now() - interval '1 hour'
     GROUP BY f.queue
  ), workers AS (
    SELECT w.queue, count(*) AS workers, sum(w.concurrency) AS worker_slots
      FROM pgtq.live_workers w GROUP BY w.queue
  ), names AS (
    SELECT live.queue FROM live
    UNION SELECT recent.queue FROM recent
    UNION SELECT q.queue FROM pgtq.queues q
    UNION SELECT workers.queue FROM workers
  )
  SELECT n.queue,
         coalesce(live.queued, 0) AS queued,
         coalesce(live.scheduled, 0) AS scheduled,
         coalesce(live.running, 0) AS running,
         greatest(now() - live.oldest_queued_at, interval '0') AS oldest_queued_age,
         coalesce(recent.succeeded, 0) AS succeeded_last_hour,
         coalesce(recent.failed, 0) AS failed_last_hour,
         coalesce(recent.cancelled, 0) AS cancelled_last_hour,
         coalesce(workers.workers, 0) AS workers,
         coalesce(workers.worker_slots, 0) AS worker_slots,
         coalesce(q.paused, false) AS paused,
         q.global_concurrency, q.rate_limit, q.rate_period,
         q.key_concurrency, coalesce(live.queued_keys, 0) AS queued_keys
    FROM names n
    LEFT JOIN live ON live.queue = n.queue
    LEFT JOIN recent ON recent.queue = n.queue
    LEFT JOIN workers ON workers.queue = n.queue
    LEFT JOIN pgtq.queues q ON q.queue = n.queue;
COMMENT ON VIEW pgtq.queue_stats IS
  'One row per queue with live tasks, tasks ended in the last hour, settings or live workers: queued, scheduled, running, oldest_queued_age (how long the oldest due task has waited), succeeded/failed/cancelled in the last hour, live workers and their slots, paused and limits, queued_keys (how many fairness keys have queued tasks).';

-- Raises the precise error for a fairness key that is not 1..1024 bytes (NULL is none).
CREATE FUNCTION pgtq.check_fairness_key(what text, fairness_key text) RETURNS void
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF octet_length(fairness_key) NOT BETWEEN 1 AND 1024 THEN
    RAISE EXCEPTION '% must be 1..1024 bytes long, got %', what, octet_length(fairness_key)
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
END $$;

-- Checks push_many's fairness_keys: one-dimensional, as long as tasks (given; NULL when
-- tasks is NULL, which push_many refuses after this), every key NULL or 1..1024 bytes.
CREATE FUNCTION pgtq.check_fairness_keys(what text, fairness_keys text[], given integer)
RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  bad bigint;
BEGIN
  IF coalesce(array_ndims(fairness_keys), 1) <> 1 OR cardinality(fairness_keys) <> given THEN
    RAISE EXCEPTION '% must be a one-dimensional array as long as tasks (%), got % elements in % '
      'dimensions', what, given, cardinality(fairness_keys), array_ndims(fairness_keys)
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  SELECT k.n INTO bad FROM unnest(fairness_keys) WITH ORDINALITY AS k(key, n)
   WHERE octet_length(k.key) NOT BETWEEN 1 AND 1024 ORDER BY k.n LIMIT 1;
  IF FOUND THEN
    PERFORM pgtq.check_fairness_key(what || '[' || bad || ']', fairness_keys[bad]);
  END IF;
END $$;

-- The ids of up to take queued tasks of queue named in task_names, chosen fairly between
-- keys (top of this file), locked FOR UPDATE (rows another session locks are skipped), and
-- moves the cursor past the last key served. key_cap: at most this many running tasks per key
-- (NULL: no limit); the tasks without a key have no such limit. Called only by pgtq.claim
-- while it holds the queue's turn; NULL when there is nothing to take.
--
-- A cursor per queue and set of task names: daemons that serve other task names (a pgtqd
-- with other plugins) go round the keys on their own, and do not move each other past keys.
-- Keys that cannot be served now (at their limit, or without a queued task of these names)
-- are passed over and do not count: the walk goes on until take keys can be served, in
-- stretches of 4 take + 64 keys, at most 64 of them per claim (and never more than once round
-- the keys). A claim that finds none still moves the cursor past the keys it looked at, so
-- the next one looks further.
--
-- Cost: per key looked at, one descent of live_tasks_fair to find it, one probe for a queued
-- task of these names (a walk over the key's tasks of other names), and with key_cap one
-- range of live_tasks_key_running (at most key_cap entries); then, of S keys that can be
-- served, at most take - S + 1 tasks each are read, since each gets one per round.
CREATE FUNCTION pgtq.fair_pick(queue text, task_names text[], take integer, key_cap integer)
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
  first_cursor text;
  look_further boolean; -- nothing to take among as many keys as a claim looks at: look on
  chosen      bigint[];
  chosen_keys text[];  -- each chosen task's key, '' for none
  picked      bigint[];
  next_last   text;
BEGIN
  SELECT c.last_key INTO last_served FROM pgtq.fairness_cursors c
   WHERE c.queue = fair_pick.queue AND c.task_set = names_hash;
  first_cursor := last_served;
  -- Up to 64 stretches of looks keys each, within this claim: keys that cannot be served are
  -- passed over at once, not one claim (a poll interval, when idle) per stretch.
  FOR walk IN 1 .. 64 LOOP
  WITH RECURSIVE after_cursor(key, n, served, room) AS (
    -- The keys after the cursor, one index descent each (a loose index scan), until take of
    -- them can be served.
    SELECT k.key, 1, (s.room > 0)::integer, s.room
      FROM (SELECT min(l.fairness_key) AS key FROM pgtq.live_tasks l
             WHERE l.queue = fair_pick.queue AND l.state = 'queued'
               AND l.fairness_key IS NOT NULL
               AND l.fairness_key > coalesce(last_served, '')) k
      CROSS JOIN LATERAL (SELECT pgtq.fair_key_room(fair_pick.queue, k.key, task_names, key_cap,
                                                    take) AS room) s
    UNION ALL
    SELECT k.key, a.n + 1, a.served + (s.room > 0)::integer, s.room
      FROM after_cursor a
      CROSS JOIN LATERAL (SELECT min(l.fairness_key) AS key FROM pgtq.live_tasks l
                           WHERE l.queue = fair_pick.queue AND l.state = 'queued'
                             AND l.fairness_key IS NOT NULL AND l.fairness_key > a.key) k
      CROSS JOIN LATERAL (SELECT pgtq.fair_key_room(fair_pick.queue, k.key, task_names, key_cap,
                                                    take) AS room) s
     WHERE a.key IS NOT NULL AND a.served < take AND a.n < looks
  ), from_start(key, n, served, room) AS (
    -- Then, once the walk ran out of keys (its last row has none) with room to spare, round
    -- again: the keys up to the cursor.
    SELECT k.key, e.n + 1, e.served + (s.room > 0)::integer, s.room
      FROM (SELECT max(a.n) AS n, max(a.served) AS served FROM after_cursor a
             HAVING bool_or(a.key IS NULL)) e
      CROSS JOIN (SELECT min(l.fairness_key) AS key FROM pgtq.live_tasks l
                   WHERE l.queue = fair_pick.queue AND l.state = 'queued'
                     AND l.fairness_key IS NOT NULL) k
      CROSS JOIN LATERAL (SELECT pgtq.fair_key_room(fair_pick.queue, k.key, task_names, key_cap,
                                                    take) AS room) s
     WHERE last_served <> '' AND e.served < take AND e.n < looks
    UNION ALL
    SELECT k.key, f.n + 1, f.served + (s.room > 0)::integer, s.room
      FROM from_start f
      CROSS JOIN LATERAL (SELECT min(l.fairness_key) AS key FROM pgtq.live_tasks l
                           WHERE l.queue = fair_pick.queue AND l.state = 'queued'
                             AND l.fairness_key IS NOT NULL AND l.fairness_key > f.key) k
      CROSS JOIN LATERAL (SELECT pgtq.fair_key_room(fair_pick.queue, k.key, task_names, key_cap,
                                                    take) AS room) s
     WHERE f.key IS NOT NULL AND f.key < last_served AND f.served < take AND f.n < looks
  ), turns(key, pos, room) AS (
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
    SELECT t.key, t.pos, t.room FROM turns t WHERE t.room > 0 ORDER BY t.pos LIMIT take
  ), visited AS (
    -- Of S keys served, one gets at most take - S + 1 tasks, and no more than its room.
    SELECT v.key, v.pos, least(take - count(*) OVER () + 1, v.room) AS quota
      FROM served v
  ), candidates AS (
    SELECT v.key, v.pos, c.id, c.round
      FROM visited v
      CROSS JOIN LATERAL (
        (SELECT l.id, row_number() OVER (ORDER BY l.priority, l.run_at, l.id) AS round
           FROM pgtq.live_tasks l
          WHERE v.key IS NOT NULL
            AND l.queue = fair_pick.queue AND l.state = 'queued'
            AND l.fairness_key IS NOT NULL AND l.fairness_key = v.key
            AND l.task = ANY (task_names)
          ORDER BY l.priority, l.run_at, l.id LIMIT greatest(v.quota, 0))
        UNION ALL
        (SELECT l.id, row_number() OVER (ORDER BY l.priority, l.run_at, l.id) AS round
           FROM pgtq.live_tasks l
          WHERE v.key IS NULL
            AND l.queue = fair_pick.queue AND l.state = 'queued' AND l.fairness_key IS NULL
            AND l.task = ANY (task_names)
          ORDER BY l.priority, l.run_at, l.id LIMIT greatest(v.quota, 0))) c
  ), taken AS (
    SELECT c.id, c.key, row_number() OVER (ORDER BY c.round, c.pos) AS n
      FROM candidates c ORDER BY c.round, c.pos LIMIT take
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
           AND NOT EXISTS (SELECT 1 FROM after_cursor a WHERE a.key IS NULL)
    INTO chosen, chosen_keys, next_last, look_further;
    EXIT WHEN NOT look_further;
    last_served := next_last;
  END LOOP;
  IF next_last IS DISTINCT FROM first_cursor THEN
    INSERT INTO pgtq.fairness_cursors AS c (queue, task_set, last_key)
    VALUES (fair_pick.queue, names_hash, next_last)
    ON CONFLICT ON CONSTRAINT fairness_cursors_pkey DO UPDATE SET last_key = excluded.last_key;
  END IF;
  IF chosen IS NULL THEN
    RETURN NULL;
  END IF;
  -- Chosen without locks: a task another session claimed meanwhile is skipped here, and so is
  -- one whose name or key a replacing push changed since.
  SELECT array_agg(l.id) INTO picked
    FROM (SELECT l.id FROM pgtq.live_tasks l, unnest(chosen, chosen_keys) AS c(id, key)
           WHERE l.id = ANY (chosen) AND l.id = c.id AND l.state = 'queued'
             AND l.task = ANY (task_names) AND coalesce(l.fairness_key, '') = c.key
             FOR UPDATE OF l SKIP LOCKED) l;
  RETURN picked;
END $$;

-- How many tasks of key fair_pick may take now, at most take: 0 without a queued task of
-- task_names (or for no key), else take, or with key_cap (NULL: no limit) what the key's
-- running tasks leave of it. Called once per key fair_pick looks at, under its settings
-- (generic plans, no seq scans), its plans kept for the session.
CREATE FUNCTION pgtq.fair_key_room(queue text, key text, task_names text[], key_cap integer,
                                   take integer)
RETURNS integer
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF key IS NULL OR NOT EXISTS (SELECT 1 FROM pgtq.live_tasks l
                                 WHERE l.queue = fair_key_room.queue AND l.state = 'queued'
                                   AND l.fairness_key IS NOT NULL
                                   AND l.fairness_key = fair_key_room.key
                                   AND l.task = ANY (task_names)) THEN
    RETURN 0;
  END IF;
  IF key_cap IS NULL THEN
    RETURN take;
  END IF;
  -- Counted up to key_cap: a key at its limit costs no more than one with room.
  RETURN greatest(least(take, key_cap - (SELECT count(*) FROM (
                                           SELECT 1 FROM pgtq.live_tasks r
                                            WHERE r.queue = fair_key_room.queue
                                              AND r.state = 'running'
                                              AND r.fairness_key IS NOT NULL
                                              AND r.fairness_key = fair_key_room.key
                                            LIMIT key_cap) x)), 0);
END $$;

-- At most max_running (1..100000) tasks of each fairness key of queue running at once, across
-- every pgtqd and program that claims; NULL removes the limit. Tasks without a key are not
-- limited by it (the queue's global concurrency limit still applies to them). Claimed ahead
-- of the workers counts as running; lowering the limit stops nothing that runs. Takes effect
-- at the next claim; wakes the queue's waiting workers, since a raised or removed limit
-- leaves room.
CREATE FUNCTION pgtq.set_key_concurrency(queue text, max_running integer) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  PERFORM pgtq.check_name('queue', set_key_concurrency.queue);
  IF max_running NOT BETWEEN 1 AND 100000 THEN
    RAISE EXCEPTION 'pgtq.set_key_concurrency: max_running must be 1..100000 (NULL: no limit), '
      'got %', max_running USING ERRCODE = 'invalid_parameter_value';
  END IF;
  INSERT INTO pgtq.queues AS q (queue, key_concurrency)
  VALUES (set_key_concurrency.queue, max_running)
  ON CONFLICT ON CONSTRAINT queues_pkey
  DO UPDATE SET key_concurrency = max_running, changed_at = now();
  PERFORM pgtq.wake_queue(set_key_concurrency.queue);
END $$;
COMMENT ON FUNCTION pgtq.set_key_concurrency(text, integer) IS
'Limits each fairness key of queue to max_running (1..100000) tasks running at once across every worker (claimed ahead counts; tasks without a key are not limited); NULL removes the limit. Running tasks are never stopped. Errors: 22004 NULL queue, 22023 bad name or max_running.';
