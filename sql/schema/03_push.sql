-- Pushing tasks: pgtq.push (one task) and pgtq.push_many (many tasks, one round trip).
--
-- Both run inside the caller's transaction: if it rolls back, the task never existed and
-- no worker saw it, because NOTIFY is delivered only at commit. Identical notifications in
-- one transaction are folded into one by PostgreSQL, so a transaction pushing many tasks
-- wakes each listener once. A due task wakes the queue's waiting workers (09_wake_ups.sql:
-- channel pgtq_wakeup, payload the queue, sent only while a worker of the queue waits for
-- it); a delayed one wakes the schedulers instead (pgtq_scheduled, sent only when a
-- scheduler sleeps past the task's run_at), so that they can shorten their sleep.

-- Returns the new task's id. run_at and delay add up: run_at defaults to now(). priority,
-- max_attempts, timeout: NULL takes the queue's default (pgtq.set_task_defaults, 11_queues.sql),
-- else 0, 5 and none. timeout: how long each attempt may run (none: the task name's timeout
-- from its plugin, else pgtqd's task-timeout). unique_key, unique_states, unique_period, on_conflict: 12_unique.sql.
-- fairness_key: 16_fairness.sql. tags and metadata: for finding and describing tasks
-- (02_names_and_limits.sql has their limits). depends_on, on_parent_failure: the task waits,
-- pending, for these tasks to end (20_dependencies.sql).
CREATE FUNCTION pgtq.push(
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
  fairness_key  text DEFAULT NULL,
  tags          text[] DEFAULT NULL,
  metadata      jsonb DEFAULT NULL,
  depends_on    bigint[] DEFAULT NULL,
  on_parent_failure text DEFAULT 'cancel'
) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  start_at timestamptz;
  due      boolean;
  new_id   bigint;
  waiting  boolean; -- a worker (due) or scheduler (delayed) waits to be woken
  states   pgtq.task_state[];
  given_priority     integer; -- the queue's defaults where the push gives none (unique keys)
  given_max_attempts integer;
  given_timeout      interval;
  parents  bigint[]; -- depends_on, distinct and sorted; NULL: none
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
                       OR octet_length(push.fairness_key) BETWEEN 1 AND 1024)
                  AND (push.tags IS NULL OR pgtq.tags_ok(push.tags))
                  AND (push.metadata IS NULL OR pgtq.metadata_ok(push.metadata))
                  AND push.depends_on IS NULL AND push.on_parent_failure IN ('cancel', 'run'),
                  false) THEN
    PERFORM pgtq.check_name('queue', push.queue);
    PERFORM pgtq.check_task(push.task, push.args, coalesce(push.priority, 0),
                            coalesce(push.max_attempts, 5));
    PERFORM pgtq.start_time('pgtq.push: ', push.run_at, push.delay);
    PERFORM pgtq.check_timeout('pgtq.push: timeout', push.timeout);
    PERFORM pgtq.check_fairness_key('pgtq.push: fairness_key', push.fairness_key);
    PERFORM pgtq.check_tags('pgtq.push: tags', push.tags);
    PERFORM pgtq.check_metadata('pgtq.push: metadata', push.metadata);
    PERFORM pgtq.check_depends_on('pgtq.push: ', push.depends_on, push.on_parent_failure);
    IF cardinality(push.depends_on) > 0 THEN
      parents := ARRAY(SELECT DISTINCT p FROM unnest(push.depends_on) AS p ORDER BY p);
    END IF;
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
    IF parents IS NOT NULL AND push.on_conflict = 'replace' THEN
      RAISE EXCEPTION 'pgtq.push: depends_on cannot be combined with on_conflict replace'
        USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF parents IS NOT NULL THEN
      PERFORM pgtq.lock_parents('pgtq.push: ', parents);
    END IF;
    SELECT u.id, u.written INTO new_id, waiting
      FROM pgtq.insert_unique('pgtq.push: ', push.queue, push.task, push.args, start_at,
                              given_priority, given_max_attempts, given_timeout,
                              push.unique_key, states, push.unique_period, push.on_conflict,
                              push.fairness_key,
                              CASE WHEN push.tags IS NOT NULL THEN pgtq.normal_tags(push.tags) END,
                              push.metadata) AS u;
    IF parents IS NOT NULL AND waiting THEN
      -- Written by this push (a held key returns its holder, which keeps what it has).
      UPDATE pgtq.live_tasks l
         SET state = 'pending', depends_on = parents,
             on_parent_failure = push.on_parent_failure
       WHERE l.id = new_id;
      PERFORM pgtq.add_dependencies('pgtq.push: ', new_id, parents);
      RETURN new_id;
    END IF;
    IF waiting AND due THEN
      PERFORM pgtq.wake_queue(push.queue);
    ELSIF waiting THEN
      PERFORM pgtq.wake_schedulers(start_at);
    END IF;
    RETURN new_id;
  END IF;
  IF parents IS NOT NULL THEN
    -- Pending: nobody to wake until its parents have ended (add_dependencies settles it).
    PERFORM pgtq.lock_parents('pgtq.push: ', parents);
    INSERT INTO pgtq.live_tasks AS l (queue, task, args, state, priority, run_at, max_attempts,
                                      timeout, fairness_key, tags, metadata, depends_on,
                                      on_parent_failure)
    SELECT push.queue, push.task, push.args, 'pending', coalesce(push.priority, q.default_priority, 0),
           start_at, coalesce(push.max_attempts, q.default_max_attempts, 5),
           coalesce(push.timeout, q.default_timeout), push.fairness_key,
           CASE WHEN push.tags IS NOT NULL THEN pgtq.normal_tags(push.tags) END, push.metadata,
           parents, push.on_parent_failure
      FROM (SELECT 1) AS one LEFT JOIN pgtq.queues q ON q.queue = push.queue
    RETURNING l.id INTO new_id;
    PERFORM pgtq.add_dependencies('pgtq.push: ', new_id, parents);
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
                                    timeout, fairness_key, tags, metadata)
  SELECT push.queue, push.task, push.args,
         CASE WHEN due THEN 'queued' ELSE 'scheduled' END::pgtq.task_state,
         coalesce(push.priority, q.default_priority, 0), start_at,
         coalesce(push.max_attempts, q.default_max_attempts, 5),
         coalesce(push.timeout, q.default_timeout), push.fairness_key,
         CASE WHEN push.tags IS NOT NULL THEN pgtq.normal_tags(push.tags) END, push.metadata
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
COMMENT ON FUNCTION pgtq.push(text, text, jsonb, timestamptz, interval, integer, integer, interval, text, pgtq.task_state[], interval, text, text, text[], jsonb, bigint[], text) IS
'Pushes one task; returns its id. queue, task: 1..128 characters of [A-Za-z0-9_.:-]. args: JSON array or object, <= 1 MiB as text, nested <= 100 deep. run_at (default now()) + delay: within 100 years of now(); delay 0..100 years. priority -32768..32767 (smaller first; NULL: the queue''s default_priority, else 0), max_attempts 1..1000 (NULL: the queue''s default_max_attempts, else 5). timeout: how long each attempt may run, more than 0 and at most 365 days (NULL: the queue''s default_timeout, else the task name''s, else pgtqd''s task-timeout). unique_key (1..1024 bytes): no other task of the queue with this key may count, that is be live, or be in a finished state of unique_states (which must include queued, scheduled and running; default those, plus succeeded when unique_period is given) and have ended within unique_period (more than 0, at most 100 years; NULL: ever; a live holder is answered before a finished one). on_conflict when one counts: ignore (return its id), replace (a queued or scheduled one takes this push''s task name, args, priority, run_at, max_attempts, timeout, fairness_key, tags and metadata; its id is returned), raise. fairness_key (1..1024 bytes; NULL: none): claims of the queue take turns between keys, and the queue''s key_concurrency caps each key''s running tasks. tags: labels to find the task by (at most 32, each 1..128 characters; stored distinct and sorted; NULL or empty: none). metadata: a JSON object about the task for its pusher, not passed to the handler (<= 64 KiB as text, <= 100 deep; NULL: none). depends_on: ids of tasks (at most 10000; NULL or empty: none) this one waits for, pending, until they have all ended; on_parent_failure (cancel, the default, or run) says whether it is cancelled or runs anyway when one fails for good, is cancelled or deleted; not with on_conflict replace. Errors: 22004 NULL, 22023 bad value, 23503 depends_on names no task, 23505 unique key held (raise), 54000 args, tags, metadata or depends_on too large or deep.';

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
   WHERE k NOT IN ('task', 'args', 'priority', 'max_attempts', 'run_at', 'delay', 'timeout',
                   'fairness_key', 'tags', 'metadata', 'depends_on', 'on_parent_failure')
   LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION '%unknown key "%" (known: task, args, priority, max_attempts, run_at, delay, timeout, fairness_key, tags, metadata, depends_on, on_parent_failure)',
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
  PERFORM pgtq.check_tags(what || 'tags', pgtq.json_tags(what || 'tags', elem->'tags'));
  PERFORM pgtq.check_metadata(what || 'metadata', CASE WHEN jsonb_typeof(elem->'metadata') <> 'null'
                                                      THEN elem->'metadata' END);
  IF coalesce(jsonb_typeof(elem->'depends_on'), 'null') NOT IN ('null', 'array')
     OR elem->'depends_on' @? 'strict $[*] ? (@.type() != "number" || @.floor() != @
                                              || @ > 9223372036854775807
                                              || @ < -9223372036854775808)' THEN
    RAISE EXCEPTION '%depends_on must be a JSON array of task ids, got %', what,
      elem->'depends_on' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF coalesce(jsonb_typeof(elem->'on_parent_failure'), 'null') NOT IN ('null', 'string') THEN
    RAISE EXCEPTION '%on_parent_failure must be a JSON string, got %', what,
      elem->'on_parent_failure' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  PERFORM pgtq.check_depends_on(what,
                                CASE WHEN jsonb_typeof(elem->'depends_on') = 'array'
                                     THEN ARRAY(SELECT p::numeric::bigint
                                                  FROM jsonb_array_elements(elem->'depends_on') AS p)
                                END,
                                coalesce(elem->>'on_parent_failure', 'cancel'));
  RAISE EXCEPTION '%invalid', what USING ERRCODE = 'invalid_parameter_value';
END $$;

-- tasks: a JSON array of objects {"task": …, "args": …, "priority": …, "run_at": …,
-- "delay": …, "max_attempts": …, "timeout": …, "fairness_key": …, "tags": […],
-- "metadata": {…}, "depends_on": [ids], "on_parent_failure": "cancel"|"run"}; only "task" is
-- required, null means the default, any
-- other key is an error. Returns the new ids in order. Every row is checked in the WHERE of
-- the insert, as expressions; push_many_element_error explains a row that fails them. The
-- name pattern has no {1,128} bound: PostgreSQL's regex engine unrolls bounded repetitions,
-- which made the match 6 times slower than this one plus length().
CREATE FUNCTION pgtq.push_many(queue text, tasks jsonb) RETURNS SETOF bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  ids       bigint[];
  waits     bigint[]; -- the pending tasks, whose dependencies are added after the insert
  w         record;
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

  -- The parents first (20_dependencies.sql), so that an unknown one draws no id: all of them
  -- locked in one order (id), then each element's looked at, to name the element.
  IF tasks @? 'lax $[*].depends_on[*]' THEN
    PERFORM 1 FROM pgtq.live_tasks l
     WHERE l.id = ANY (ARRAY(
             SELECT p::numeric::bigint
               FROM jsonb_array_elements(tasks) AS e(elem),
                    -- Only well-formed lists (the checks below name the others).
                    jsonb_array_elements(
                      CASE WHEN jsonb_typeof(e.elem->'depends_on') = 'array'
                             AND NOT e.elem->'depends_on' @? 'strict $[*] ? (@.type() != "number"
                                                             || @.floor() != @
                                                             || @ > 9223372036854775807
                                                             || @ < -9223372036854775808)'
                           THEN e.elem->'depends_on' ELSE '[]' END) AS p))
     ORDER BY l.id FOR KEY SHARE;
    PERFORM pgtq.lock_parents('pgtq.push_many: element ' || e.ord || ': ',
                              ARRAY(SELECT DISTINCT p::numeric::bigint
                                      FROM jsonb_array_elements(e.elem->'depends_on') AS p
                                     ORDER BY 1))
       FROM jsonb_array_elements(tasks) WITH ORDINALITY AS e(elem, ord)
      WHERE jsonb_typeof(e.elem->'depends_on') = 'array'
        AND NOT e.elem->'depends_on' @? 'strict $[*] ? (@.type() != "number" || @.floor() != @
                                                        || @ > 9223372036854775807
                                                        || @ < -9223372036854775808)';
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
                THEN e.elem->>'fairness_key' END AS fairness_key,
           CASE WHEN jsonb_typeof(e.elem->'tags') = 'array'
                 AND NOT e.elem->'tags' @? 'strict $[*] ? (@.type() != "string")'
                THEN ARRAY(SELECT jsonb_array_elements_text(e.elem->'tags')) END AS tags,
           CASE WHEN jsonb_typeof(e.elem->'metadata') <> 'null'
                THEN e.elem->'metadata' END AS metadata,
           CASE WHEN jsonb_typeof(e.elem->'depends_on') = 'array'
                 AND NOT e.elem->'depends_on' @? 'strict $[*] ? (@.type() != "number" || @.floor() != @
                                                                 || @ > 9223372036854775807
                                                                 || @ < -9223372036854775808)'
                THEN ARRAY(SELECT DISTINCT p::numeric::bigint
                             FROM jsonb_array_elements(e.elem->'depends_on') AS p
                            ORDER BY 1) END AS depends_on,
           coalesce(e.elem->>'on_parent_failure', 'cancel') AS on_parent_failure
      FROM jsonb_array_elements(tasks) WITH ORDINALITY AS e(elem, ord)
  ), checked AS (
    -- The rules of check_task and start_time as expressions; CASE keeps the order, so a cast
    -- below only sees a value that passed. The name pattern has no {1,128} bound (0006).
    SELECT s.* FROM spec s
     WHERE CASE WHEN jsonb_typeof(s.elem) = 'object'
                 AND s.elem - '{task,args,priority,max_attempts,run_at,delay,timeout,fairness_key,tags,metadata,depends_on,on_parent_failure}'::text[]
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
                 AND (coalesce(jsonb_typeof(s.elem->'tags'), 'null') = 'null'
                      OR s.tags IS NOT NULL AND pgtq.tags_ok(s.tags))
                 AND (s.metadata IS NULL OR pgtq.metadata_ok(s.metadata))
                 AND (coalesce(jsonb_typeof(s.elem->'depends_on'), 'null') = 'null'
                      OR s.depends_on IS NOT NULL AND cardinality(s.depends_on) <= 10000)
                 AND coalesce(jsonb_typeof(s.elem->'on_parent_failure'), 'null') IN ('null', 'string')
                 AND s.on_parent_failure IN ('cancel', 'run')
                THEN true
                ELSE pgtq.push_many_element_error(s.ord, s.elem) END
  ), inserted AS (
    INSERT INTO pgtq.live_tasks AS l (queue, task, args, state, priority, run_at, max_attempts,
                                      timeout, fairness_key, tags, metadata, depends_on,
                                      on_parent_failure)
    SELECT push_many.queue, c.task, c.args,
           CASE WHEN cardinality(c.depends_on) > 0 THEN 'pending'
                WHEN coalesce(c.run_at, now()) + coalesce(c.delay, interval '0') <= now()
                THEN 'queued' ELSE 'scheduled' END::pgtq.task_state,
           CASE WHEN jsonb_typeof(c.priority) = 'number' THEN c.priority::integer
                ELSE coalesce(d.default_priority, 0) END,
           coalesce(c.run_at, now()) + coalesce(c.delay, interval '0'),
           CASE WHEN jsonb_typeof(c.max_attempts) = 'number' THEN c.max_attempts::integer
                ELSE coalesce(d.default_max_attempts, 5) END,
           coalesce(c.timeout, d.default_timeout), c.fairness_key,
           CASE WHEN c.tags IS NOT NULL THEN pgtq.normal_tags(c.tags) END, c.metadata,
           CASE WHEN cardinality(c.depends_on) > 0 THEN c.depends_on END,
           CASE WHEN cardinality(c.depends_on) > 0 THEN c.on_parent_failure END
      FROM checked c LEFT JOIN pgtq.queues d ON d.queue = push_many.queue
     ORDER BY c.ord
    RETURNING l.id, l.state, l.run_at
  )
  SELECT array_agg(i.id ORDER BY i.id), bool_or(i.state = 'queued'),
         min(i.run_at) FILTER (WHERE i.state = 'scheduled'),
         array_agg(i.id ORDER BY i.id) FILTER (WHERE i.state = 'pending')
    INTO ids, any_due, earliest_later, waits FROM inserted i;
  -- Element k got the k-th id (the insert draws them in element order).
  FOR w IN SELECT x.id, x.ord, l.depends_on
             FROM unnest(ids) WITH ORDINALITY AS x(id, ord)
             JOIN pgtq.live_tasks l ON l.id = x.id
            WHERE x.id = ANY (waits) ORDER BY x.id LOOP
    PERFORM pgtq.add_dependencies('pgtq.push_many: element ' || w.ord || ': ', w.id, w.depends_on);
  END LOOP;
  IF any_due THEN
    PERFORM pgtq.wake_queue(push_many.queue);
  END IF;
  IF earliest_later IS NOT NULL THEN
    PERFORM pgtq.wake_schedulers(earliest_later);
  END IF;
  RETURN QUERY SELECT unnest(ids);
END $$;
COMMENT ON FUNCTION pgtq.push_many(text, jsonb) IS
'Pushes many tasks in one statement; returns their ids in order. tasks: JSON array of objects with keys task (required), args, priority, max_attempts (JSON integers), run_at, delay, timeout, fairness_key (strings), tags (an array of strings), metadata (an object), depends_on (an array of task ids), on_parent_failure (cancel or run); null means the default (the queue''s, as for pgtq.push), other keys are refused. Same limits and errors as pgtq.push; messages name the element.';

-- The array form: what a program sends (the C++ client does); the same rules as push,
-- checked per element in one expression, with no JSON types or unknown keys to check.

-- Raises the precise error for the first element of the arrays that push_many refused.
-- VOLATILE, as the other *_error functions: a CTE that calls it is not inlined, so the
-- insert's ORDER BY sorts, every element is checked before the first row is inserted, and a
-- refused call draws no id.
CREATE FUNCTION pgtq.push_many_arrays_error(queue text, tasks text[], args jsonb[],
                                            priorities integer[], max_attempts integer[],
                                            run_at timestamptz[], delays interval[],
                                            timeouts interval[], tags jsonb[], metadata jsonb[])
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
     OR coalesce(array_ndims(timeouts), 1) <> 1 OR coalesce(array_ndims(tags), 1) <> 1
     OR coalesce(array_ndims(metadata), 1) <> 1 THEN
    RAISE EXCEPTION 'pgtq.push_many: tasks, args, priorities, max_attempts, run_at, delays, '
      'timeouts, tags and metadata must be one-dimensional arrays'
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF cardinality(args) <> given OR cardinality(priorities) <> given
     OR cardinality(max_attempts) <> given OR cardinality(run_at) <> given
     OR cardinality(delays) <> given OR cardinality(timeouts) <> given
     OR cardinality(tags) <> given OR cardinality(metadata) <> given THEN
    RAISE EXCEPTION 'pgtq.push_many: tasks has % elements; args, priorities, max_attempts, '
      'run_at, delays, timeouts, tags and metadata must have as many (or be NULL, except args), '
      'got %, %, %, %, %, %, % and %', given, cardinality(args), cardinality(priorities),
      cardinality(max_attempts), cardinality(run_at), cardinality(delays), cardinality(timeouts),
      cardinality(tags), cardinality(metadata)
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
    PERFORM pgtq.check_tags(what || 'tags[' || i || ']',
                            pgtq.json_tags(what || 'tags[' || i || ']', tags[i]));
    PERFORM pgtq.check_metadata(what || 'metadata[' || i || ']',
                                CASE WHEN jsonb_typeof(metadata[i]) <> 'null' THEN metadata[i] END);
  END LOOP;
  RETURN NULL;
END $$;

-- tasks[i] with args[i] (NULL: []), and optionally priorities[i], max_attempts[i] and
-- timeouts[i] (NULL: the queue's defaults, as for push), run_at[i], delays[i], unique_keys[i]
-- fairness_keys[i], tags[i] (a JSON array of strings), metadata[i] (NULL: none),
-- depends_on[i] (a JSON array of task ids; NULL: none) and on_parent_failure[i] (NULL: cancel),
-- each optional array NULL or as long as tasks (at most 100000). The same rules and limits as
-- pgtq.push; unique_states, unique_period and on_conflict apply to every task with a unique
-- key. Returns the ids in order (a task whose key was held: the holder's). All or nothing: a
-- bad element refuses the call. Calls with unique keys or dependencies push one task at a
-- time, through pgtq.push.
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
                               fairness_keys text[] DEFAULT NULL,
                               tags jsonb[] DEFAULT NULL,
                               metadata jsonb[] DEFAULT NULL,
                               depends_on jsonb[] DEFAULT NULL,
                               on_parent_failure text[] DEFAULT NULL)
RETURNS SETOF bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  given     integer := cardinality(push_many.tasks);
  ids       bigint[];
  any_due        boolean;
  earliest_later timestamptz; -- the earliest run_at of the delayed tasks
  i         integer;
  at        integer;            -- the element being pushed (keyed calls)
  failure   text;
  failure_state text;
  parents   bigint[];
BEGIN
  IF fairness_keys IS NOT NULL THEN
    PERFORM pgtq.check_fairness_keys('pgtq.push_many: fairness_keys', fairness_keys, given);
  END IF;
  IF unique_keys IS NOT NULL OR unique_states IS NOT NULL OR unique_period IS NOT NULL
     OR on_conflict IS DISTINCT FROM 'ignore' OR push_many.depends_on IS NOT NULL
     OR push_many.on_parent_failure IS NOT NULL THEN
    -- Unique tasks and tasks with dependencies go one at a time through pgtq.push, after every
    -- element is checked.
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
    IF coalesce(array_ndims(push_many.depends_on), 1) <> 1
       OR cardinality(push_many.depends_on) <> given
       OR coalesce(array_ndims(push_many.on_parent_failure), 1) <> 1
       OR cardinality(push_many.on_parent_failure) <> given THEN
      RAISE EXCEPTION 'pgtq.push_many: depends_on and on_parent_failure must be NULL or '
        'one-dimensional arrays as long as tasks (%)', given
        USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOR i IN 1 .. coalesce(cardinality(push_many.depends_on), 0) LOOP
      IF push_many.depends_on[i] IS NOT NULL
         AND (jsonb_typeof(push_many.depends_on[i]) <> 'array'
              OR push_many.depends_on[i] @? 'strict $[*] ? (@.type() != "number" || @.floor() != @
                                                            || @ > 9223372036854775807
                                                            || @ < -9223372036854775808)') THEN
        RAISE EXCEPTION 'pgtq.push_many: depends_on[%] must be a JSON array of task ids, got %',
          i, push_many.depends_on[i] USING ERRCODE = 'invalid_parameter_value';
      END IF;
    END LOOP;
    FOR i IN 1 .. CASE WHEN push_many.depends_on IS NOT NULL
                            OR push_many.on_parent_failure IS NOT NULL THEN given ELSE 0 END LOOP
      PERFORM pgtq.check_depends_on('pgtq.push_many: element ' || i || ': ',
                                    CASE WHEN push_many.depends_on[i] IS NOT NULL
                                         THEN ARRAY(SELECT p::numeric::bigint
                                                      FROM jsonb_array_elements(push_many.depends_on[i]) AS p)
                                    END,
                                    coalesce(push_many.on_parent_failure[i], 'cancel'));
    END LOOP;
    PERFORM pgtq.push_many_arrays_error(push_many.queue, push_many.tasks, push_many.args,
                                        priorities, push_many.max_attempts, push_many.run_at,
                                        delays, timeouts, push_many.tags, push_many.metadata);
    FOR i IN 1 .. given LOOP
      IF unique_keys[i] IS NOT NULL THEN
        PERFORM pgtq.check_unique('pgtq.push_many: unique_keys[' || i || ']: ', unique_keys[i],
                                  unique_states, unique_period, on_conflict);
      END IF;
    END LOOP;
    -- The parents of every element, locked in one order (id) and checked before any element is
    -- pushed, so that an unknown one draws no id (20_dependencies.sql).
    IF push_many.depends_on IS NOT NULL THEN
      PERFORM 1 FROM pgtq.live_tasks l
       WHERE l.id = ANY (ARRAY(SELECT p::numeric::bigint
                                 FROM unnest(push_many.depends_on) AS d(list),
                                      jsonb_array_elements(d.list) AS p
                                WHERE d.list IS NOT NULL))
       ORDER BY l.id FOR KEY SHARE;
      FOR i IN 1 .. given LOOP
        IF push_many.depends_on[i] IS NOT NULL THEN
          PERFORM pgtq.lock_parents('pgtq.push_many: depends_on[' || i || ']: ',
                                    ARRAY(SELECT p::numeric::bigint
                                            FROM jsonb_array_elements(push_many.depends_on[i]) AS p));
        END IF;
      END LOOP;
    END IF;
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
        parents := CASE WHEN push_many.depends_on[i] IS NOT NULL
                        THEN ARRAY(SELECT p::numeric::bigint
                                     FROM jsonb_array_elements(push_many.depends_on[i]) AS p) END;
        ids := ids || pgtq.push(push_many.queue, push_many.tasks[i],
                                coalesce(push_many.args[i], '[]'), push_many.run_at[i],
                                delays[i], priorities[i], push_many.max_attempts[i], timeouts[i],
                                unique_keys[i],
                                CASE WHEN unique_keys[i] IS NOT NULL THEN unique_states END,
                                CASE WHEN unique_keys[i] IS NOT NULL THEN unique_period END,
                                CASE WHEN unique_keys[i] IS NOT NULL THEN on_conflict
                                     ELSE 'ignore' END,
                                fairness_keys[i],
                                pgtq.json_tags('pgtq.push_many: tags', push_many.tags[i]),
                                CASE WHEN jsonb_typeof(push_many.metadata[i]) <> 'null'
                                     THEN push_many.metadata[i] END,
                                parents, coalesce(push_many.on_parent_failure[i], 'cancel'));
      END LOOP;
    EXCEPTION WHEN unique_violation OR invalid_parameter_value OR foreign_key_violation
                   OR null_value_not_allowed OR program_limit_exceeded THEN
      GET STACKED DIAGNOSTICS failure = MESSAGE_TEXT, failure_state = RETURNED_SQLSTATE;
      RAISE EXCEPTION 'pgtq.push_many: %[%]: %',
        CASE WHEN unique_keys[at] IS NOT NULL THEN 'unique_keys' ELSE 'depends_on' END, at,
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
                       AND coalesce(array_ndims(timeouts), 1) = 1)
                  AND (push_many.tags IS NULL OR cardinality(push_many.tags) = given
                       AND coalesce(array_ndims(push_many.tags), 1) = 1)
                  AND (push_many.metadata IS NULL OR cardinality(push_many.metadata) = given
                       AND coalesce(array_ndims(push_many.metadata), 1) = 1), false) THEN
    PERFORM pgtq.push_many_arrays_error(push_many.queue, push_many.tasks, push_many.args, priorities,
                                        push_many.max_attempts, push_many.run_at, delays,
                                        timeouts, push_many.tags, push_many.metadata);
  END IF;

  WITH spec AS (
    SELECT s.ord, s.task, coalesce(s.args, '[]'::jsonb) AS args, s.priority, s.max_attempts,
           s.run_at, s.delay, s.timeout, s.fairness_key, s.tags_json,
           CASE WHEN jsonb_typeof(s.tags_json) = 'array'
                 AND NOT s.tags_json @? 'strict $[*] ? (@.type() != "string")'
                THEN ARRAY(SELECT jsonb_array_elements_text(s.tags_json)) END AS tags,
           CASE WHEN jsonb_typeof(s.metadata) <> 'null' THEN s.metadata END AS metadata
      FROM unnest(push_many.tasks, push_many.args, coalesce(priorities, '{}'), coalesce(push_many.max_attempts, '{}'),
                  coalesce(push_many.run_at, '{}'), coalesce(delays, '{}'), coalesce(timeouts, '{}'),
                  coalesce(fairness_keys, '{}'), coalesce(push_many.tags, '{}'),
                  coalesce(push_many.metadata, '{}'))
           WITH ORDINALITY AS s(task, args, priority, max_attempts, run_at, delay, timeout,
                                fairness_key, tags_json, metadata, ord)
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
                 AND (coalesce(jsonb_typeof(s.tags_json), 'null') = 'null'
                      OR s.tags IS NOT NULL AND pgtq.tags_ok(s.tags))
                 AND (s.metadata IS NULL OR pgtq.metadata_ok(s.metadata))
                THEN true
                ELSE pgtq.push_many_arrays_error(push_many.queue, push_many.tasks, push_many.args, priorities,
                                                 push_many.max_attempts, push_many.run_at,
                                                 delays, timeouts, push_many.tags,
                                                 push_many.metadata) END
  ), inserted AS (
    INSERT INTO pgtq.live_tasks AS l (queue, task, args, state, priority, run_at, max_attempts,
                                      timeout, fairness_key, tags, metadata)
    SELECT push_many.queue, c.task, c.args,
           CASE WHEN coalesce(c.run_at, now()) + coalesce(c.delay, interval '0') <= now()
                THEN 'queued' ELSE 'scheduled' END::pgtq.task_state,
           coalesce(c.priority, d.default_priority, 0),
           coalesce(c.run_at, now()) + coalesce(c.delay, interval '0'),
           coalesce(c.max_attempts, d.default_max_attempts, 5),
           coalesce(c.timeout, d.default_timeout), c.fairness_key,
           CASE WHEN c.tags IS NOT NULL THEN pgtq.normal_tags(c.tags) END, c.metadata
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

COMMENT ON FUNCTION pgtq.push_many(text, text[], jsonb[], integer[], integer[], timestamptz[], interval[], interval[], text[], pgtq.task_state[], interval, text, text[], jsonb[], jsonb[], jsonb[], text[]) IS
'Pushes tasks[i] with args[i] (NULL: []; a JSON array or object, <= 1 MiB as text, <= 100 deep) and optional priorities[i] (-32768..32767), max_attempts[i] (1..1000), timeouts[i] (more than 0, at most 365 days) (NULL: the queue''s default, as for pgtq.push), run_at[i] and delays[i] (the start within 100 years of now; NULL: none), unique_keys[i] (as pgtq.push''s unique_key; NULL: none), fairness_keys[i] (as pgtq.push''s fairness_key; NULL: none), tags[i] (a JSON array of strings, as pgtq.push''s tags; NULL: none), metadata[i] (as pgtq.push''s metadata; NULL: none), depends_on[i] (a JSON array of task ids, as pgtq.push''s depends_on; NULL: none), on_parent_failure[i] (cancel or run; NULL: cancel); every given array as long as tasks, at most 100000. unique_states, unique_period and on_conflict: as pgtq.push, for every task with a key; calls with keys or dependencies push one task at a time. Returns the ids in order (of a task whose key was held: the holder''s); at most one NOTIFY. All or nothing. Errors: 22004 NULL tasks, args or task name, 22023 bad value or lengths, 23503 depends_on names no task, 23505 unique key held (raise), 54000 over a limit.';
