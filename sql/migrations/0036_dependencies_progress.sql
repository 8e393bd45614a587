-- Dependencies, follow-ups, progress and checkpoints (sql/schema/20_dependencies.sql,
-- 21_progress.sql).
--
-- A task pushed with depends_on waits, pending, until the tasks it names have ended, then
-- runs, or is cancelled when one of them failed and its on_parent_failure is cancel.
-- live_tasks and finished_tasks gain depends_on and on_parent_failure;
-- pgtq.task_dependencies keeps each parent's end state and result for the task that waits.
-- Whatever ends a task now calls pgtq.tasks_ended (which notifies waiters, as notify_ended
-- did, and settles dependents). pgtq.push takes depends_on and on_parent_failure (new
-- signature: the old one is dropped); push_many's JSON form takes them as keys, its array
-- form as arrays (new signature too).
--
-- live_tasks gains progress and checkpoint, finished_tasks progress: what handlers report
-- (pgtq.report, at most once a second from pgtqd, and with each outcome). pgtq.claim and
-- pgtq.pop return the parents and the checkpoint of the tasks they hand out (new result
-- columns: both are dropped and created again). pgtq.finish_many takes progress, checkpoints
-- and followups, the follow-up tasks a handler pushed, which exist only if its outcome is
-- recorded as done (new signature: the old one and its error helper are dropped).
--
-- pgtq.tick settles what an end outside READ COMMITTED left open; cancel_all, delete_all
-- and update know the new state; queue_stats counts pending tasks; the tasks view shows the
-- new columns.

ALTER TABLE pgtq.live_tasks
  ADD COLUMN depends_on bigint[],
  ADD COLUMN on_parent_failure text
    CONSTRAINT live_tasks_on_parent_failure CHECK (on_parent_failure IN ('cancel', 'run')),
  ADD COLUMN progress jsonb,
  ADD COLUMN checkpoint jsonb,
  DROP CONSTRAINT live_tasks_state,
  ADD CONSTRAINT live_tasks_state CHECK (state IN ('pending', 'queued', 'scheduled', 'running'));
ALTER TABLE pgtq.finished_tasks ADD COLUMN depends_on bigint[], ADD COLUMN on_parent_failure text,
  ADD COLUMN progress jsonb;

COMMENT ON COLUMN pgtq.live_tasks.depends_on IS
  'The ids of the tasks it depends on (push''s depends_on), distinct and sorted; NULL: none.';
COMMENT ON COLUMN pgtq.live_tasks.on_parent_failure IS
  'When a task it depends on fails for good, is cancelled or deleted: cancel (it is cancelled too) or run (it runs once all have ended); NULL without depends_on.';
COMMENT ON COLUMN pgtq.live_tasks.progress IS
  'How far the task is, as its handler last reported it (task_set_progress, pgtq.report): any JSON, <= 64 KiB, written at most once a second; NULL: never reported.';
COMMENT ON COLUMN pgtq.live_tasks.checkpoint IS
  'What a handler saved for the next attempt (task_set_checkpoint, pgtq.report): any JSON, <= 1 MiB, handed to the next claim; not kept once the task ends.';

-- What a pending task waits for (20_dependencies.sql): one row per parent, written at its push
-- and settled when the parent ends (its end state and, if it succeeded, its result, kept here
-- so that retention cannot take them from the task before it runs). The rows go when the
-- task ends. parent_state NULL: the parent is still live.
CREATE TABLE pgtq.task_dependencies (
  task_id       bigint NOT NULL,
  parent_id     bigint NOT NULL,
  parent_task   text NOT NULL,
  parent_state  text
    CONSTRAINT task_dependencies_parent_state
      CHECK (parent_state IN ('succeeded', 'failed', 'cancelled', 'deleted')),
  parent_result jsonb,
  PRIMARY KEY (task_id, parent_id)
);
-- Whatever ends a task looks here for the tasks waiting for it.
CREATE INDEX task_dependencies_open ON pgtq.task_dependencies (parent_id)
  WHERE parent_state IS NULL;
COMMENT ON TABLE pgtq.task_dependencies IS
  'The parents of pending tasks (push''s depends_on), settled with their end state and result as they end; rows go when their task ends.';

-- Tasks that ended in a transaction outside READ COMMITTED, whose snapshot cannot be trusted to
-- settle the tasks that depend on them (20_dependencies.sql): pgtq.tick settles them.
CREATE TABLE pgtq.unsettled_ends (
  task_id  bigint PRIMARY KEY,
  ended_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE pgtq.unsettled_ends IS
  'Tasks ended outside READ COMMITTED whose dependents the next pgtq.tick settles.';

DROP FUNCTION pgtq.push(text, text, jsonb, timestamptz, interval, integer, integer, interval, text, pgtq.task_state[], interval, text, text, text[], jsonb);

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

CREATE OR REPLACE FUNCTION pgtq.push_many(queue text, tasks jsonb) RETURNS SETOF bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
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

DROP FUNCTION pgtq.push_many(text, text[], jsonb[], integer[], integer[], timestamptz[], interval[], interval[], text[], pgtq.task_state[], interval, text, text[], jsonb[], jsonb[]);

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

DROP FUNCTION pgtq.pop(text, text[], integer, text, interval);
DROP FUNCTION pgtq.claim(text, text[], integer, text, interval);

CREATE FUNCTION pgtq.claim(queue text, task_names text[], max_count integer,
                           worker text, lease interval DEFAULT interval '15 seconds')
RETURNS TABLE (id bigint, claim bigint, task text, args jsonb, attempt integer,
               max_attempts integer, timeout interval, parents jsonb, checkpoint jsonb)
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
  rate_room  bigint;           -- what the rate limit leaves
  first_at   timestamptz;      -- the oldest entry of the rate window, once written
  keyed      boolean := false; -- queued tasks of the queue carry fairness keys
  limited    boolean;
  key_cap    integer;
  key_rate   integer;
  key_per    interval;
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
      picked := pgtq.fair_pick(claim.queue, task_names, take, key_cap, key_rate, key_per, turn_at);
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
                 FOR NO KEY UPDATE SKIP LOCKED) p;
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
    SELECT q.paused, q.global_concurrency, q.rate_limit, q.rate_period, q.key_concurrency,
           q.key_rate_limit, q.key_rate_period
      INTO stopped, cap, rate, per, key_cap, key_rate, key_per
      FROM pgtq.queues q WHERE q.queue = claim.queue;
    EXIT WHEN stopped;
    room := max_count + 1;
    IF cap IS NOT NULL THEN
      SELECT least(room, cap - count(*)) INTO room FROM pgtq.live_tasks l
       WHERE l.state = 'running' AND l.queue = claim.queue;
    END IF;
    IF rate IS NOT NULL THEN
      SELECT rate - coalesce(sum(s.n), 0) INTO rate_room
        FROM pgtq.queues q, unnest(q.rate_starts, q.rate_counts) AS s(at, n)
       WHERE q.queue = claim.queue AND s.at > turn_at - per;
      room := least(room, rate_room);
    END IF;
    take := greatest(least(max_count, room), 0);
    capped := true;
    EXIT WHEN take = 0;
  END LOOP;
  IF capped AND picked IS NOT NULL THEN
    IF rate IS NOT NULL THEN
      -- The window: the claims of the last period, and this one.
      UPDATE pgtq.queues q
         SET (rate_starts, rate_counts) =
             (SELECT w.new_starts, w.new_counts
                FROM pgtq.rate_window_add(q.rate_starts, q.rate_counts, turn_at, per,
                                          cardinality(picked)) w)
       WHERE q.queue = claim.queue
      RETURNING q.rate_starts[1] INTO first_at;
      -- The window is full: room comes when its oldest entry leaves. The schedulers wake the
      -- queue then (pgtq.next_rate_room); one asleep past it is told now.
      IF cardinality(picked) >= rate_room THEN
        PERFORM pgtq.wake_schedulers(first_at + per);
      END IF;
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
              l.run_at, l.depends_on, l.checkpoint
  )
  SELECT c.id, c.claim, c.task, c.args, c.attempts, c.max_attempts, c.timeout,
         CASE WHEN c.depends_on IS NOT NULL THEN pgtq.task_parents(c.id) END, c.checkpoint
    FROM claimed c ORDER BY c.priority, c.run_at, c.id;
END $$;
COMMENT ON FUNCTION pgtq.claim(text, text[], integer, text, interval) IS
'Claims up to max_count (0..100000) queued tasks of queue named in task_names, in (priority, run_at, id) order (none while the queue is paused; with a global concurrency limit, at most the limit less the running tasks of the queue; with a rate limit, at most the limit less the tasks claimed in the last rate_period; while queued tasks carry fairness keys, the keys take turns, each key at most the queue''s key_concurrency running and key_rate_limit claimed per key_rate_period; claims of a limited or fair queue take turns; call it in READ COMMITTED), for worker (1..1024 characters) with a lease of 1 second..1 day. Returns id, claim token (random, 64 bits), task, args, attempt, max_attempts, timeout (the push''s, NULL if none), parents (pgtq.task_parents for a task pushed with depends_on, else NULL), checkpoint (what an earlier attempt saved, pgtq.report; NULL if none). pgtqd uses it; programs without pgtqd use pgtq.pop. Errors: 22004 NULL, 22023 bad value.';

CREATE FUNCTION pgtq.pop(queue text, task_names text[], max_count integer, worker text,
                         lease interval DEFAULT interval '15 seconds')
RETURNS TABLE (id bigint, claim bigint, task text, args jsonb, attempt integer,
               max_attempts integer, timeout interval, parents jsonb, checkpoint jsonb)
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
                 WHERE l.state = 'running' AND l.locked_until < now())
     OR EXISTS (SELECT 1 FROM pgtq.unsettled_ends) THEN
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
           (ended).timeout, (ended).unique_key, (ended).fairness_key, (ended).tags,
           (ended).metadata, (ended).depends_on, (ended).on_parent_failure,
           (ended).progress)::pgtq.finished_tasks;

DROP FUNCTION pgtq.finish_many_arrays_error(bigint[], bigint[], text[], jsonb[], text[], float8[]);

CREATE FUNCTION pgtq.finish_many_arrays_error(task_ids bigint[], task_claims bigint[],
                                              statuses text[], results jsonb[],
                                              errors text[], retry_in float8[],
                                              progress jsonb[], checkpoints jsonb[],
                                              followups jsonb[])
RETURNS jsonb
LANGUAGE plpgsql VOLATILE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  given integer;
  i     integer;
BEGIN
  PERFORM pgtq.check_id_claims('pgtq.finish_many', task_ids, task_claims);
  IF statuses IS NULL THEN
    RAISE EXCEPTION 'pgtq.finish_many: statuses must not be NULL'
      USING ERRCODE = 'null_value_not_allowed';
  END IF;
  IF results IS NULL THEN
    RAISE EXCEPTION 'pgtq.finish_many: results must not be NULL'
      USING ERRCODE = 'null_value_not_allowed';
  END IF;
  IF errors IS NULL THEN
    RAISE EXCEPTION 'pgtq.finish_many: errors must not be NULL'
      USING ERRCODE = 'null_value_not_allowed';
  END IF;
  IF retry_in IS NULL THEN
    RAISE EXCEPTION 'pgtq.finish_many: retry_in must not be NULL'
      USING ERRCODE = 'null_value_not_allowed';
  END IF;
  given := cardinality(task_ids);
  IF coalesce(array_ndims(statuses), 1) <> 1 OR coalesce(array_ndims(results), 1) <> 1
     OR coalesce(array_ndims(errors), 1) <> 1 OR coalesce(array_ndims(retry_in), 1) <> 1 THEN
    RAISE EXCEPTION 'pgtq.finish_many: statuses, results, errors and retry_in must be '
      'one-dimensional arrays' USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF cardinality(statuses) <> given OR cardinality(results) <> given
     OR cardinality(errors) <> given OR cardinality(retry_in) <> given THEN
    RAISE EXCEPTION 'pgtq.finish_many: task_ids, task_claims, statuses, results, errors and '
      'retry_in must have the same length, got %, %, %, %, % and %', given,
      cardinality(task_claims), cardinality(statuses), cardinality(results), cardinality(errors),
      cardinality(retry_in) USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF coalesce(array_ndims(progress), 1) <> 1 OR coalesce(array_ndims(checkpoints), 1) <> 1
     OR coalesce(array_ndims(followups), 1) <> 1
     OR cardinality(progress) <> given OR cardinality(checkpoints) <> given
     OR cardinality(followups) <> given THEN
    RAISE EXCEPTION 'pgtq.finish_many: progress, checkpoints and followups must be NULL or '
      'one-dimensional arrays as long as task_ids (%)', given
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  FOR i IN 1 .. given LOOP
    IF task_ids[i] IS NULL THEN
      RAISE EXCEPTION 'pgtq.finish_many: task_ids[%] must not be NULL', i
        USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF task_claims[i] IS NULL THEN
      RAISE EXCEPTION 'pgtq.finish_many: task_claims[%] must not be NULL', i
        USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF statuses[i] IS NULL THEN
      RAISE EXCEPTION 'pgtq.finish_many: statuses[%] must not be NULL', i
        USING ERRCODE = 'null_value_not_allowed';
    END IF;
    IF statuses[i] NOT IN ('done', 'retry', 'fail', 'snooze') THEN
      RAISE EXCEPTION 'pgtq.finish_many: statuses[%] must be done, retry, fail or snooze, got "%"',
        i, statuses[i] USING ERRCODE = 'invalid_parameter_value';
    END IF;
    IF statuses[i] = 'done' AND results[i] IS NOT NULL THEN
      PERFORM pgtq.check_json_limits('pgtq.finish_many: results[' || i || ']', results[i]);
    END IF;
    PERFORM pgtq.check_report('pgtq.finish_many: ', '[' || i || ']', progress[i], checkpoints[i]);
    IF NOT pgtq.followups_ok(followups[i]) THEN
      RAISE EXCEPTION 'pgtq.finish_many: followups[%] must be a JSON array of objects whose '
        '"queue", if given, is a string', i USING ERRCODE = 'invalid_parameter_value';
    END IF;
  END LOOP;
  RETURN NULL;
END $$;

DROP FUNCTION pgtq.finish_many(bigint[], bigint[], text[], jsonb[], text[], float8[]);

CREATE FUNCTION pgtq.finish_many(task_ids bigint[], task_claims bigint[], statuses text[],
                                 results jsonb[], errors text[], retry_in float8[],
                                 progress jsonb[] DEFAULT NULL, checkpoints jsonb[] DEFAULT NULL,
                                 followups jsonb[] DEFAULT NULL)
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
  succeeded        bigint[];   -- the done outcomes accepted, and their queues (follow-ups)
  succeeded_queues text[];
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
                  AND statuses <@ ARRAY['done', 'retry', 'fail', 'snooze']
                  AND (progress IS NULL AND checkpoints IS NULL AND followups IS NULL
                       OR pgtq.reports_ok(given, progress, checkpoints, followups)), false) THEN
    PERFORM pgtq.finish_many_arrays_error(task_ids, task_claims, statuses, results, errors,
                                          retry_in, progress, checkpoints, followups);
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
                                                   errors, retry_in, progress, checkpoints,
                                                   followups)
                ELSE x.result END AS result,
           CASE WHEN octet_length(x.error) > 65536 THEN pgtq.clip_error(x.error)
                ELSE x.error END AS error,
           x.new_progress
      FROM unnest(task_ids, task_claims, statuses, results, errors, progress)
        AS x(id, claim, status, result, error, new_progress)
  ), ending AS (
    DELETE FROM pgtq.live_tasks l USING o
     WHERE l.id = ANY (task_ids) AND l.id = o.id AND l.claim = o.claim AND l.state = 'running'
       AND (o.status IN ('done', 'fail') OR l.cancel_requested OR l.attempts >= l.max_attempts
            AND o.status = 'retry')
    RETURNING l.*, o.status AS outcome, o.result AS outcome_result, o.error AS outcome_error,
              o.new_progress AS outcome_progress
  ), stored AS (
    INSERT INTO pgtq.finished_tasks (id, queue, task, args, state, priority, run_at, attempts,
                                     max_attempts, created_at, started_at, finished_at,
                                     locked_by, result, last_error, errors, timeout,
                                     unique_key, fairness_key, tags, metadata, depends_on,
                                     on_parent_failure, progress)
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
           e.timeout, e.unique_key, e.fairness_key, e.tags, e.metadata, e.depends_on,
           e.on_parent_failure, coalesce(e.outcome_progress, e.progress)
      FROM ending e
    RETURNING id, queue, state
  )
  SELECT (SELECT array_agg(id) FROM stored), (SELECT array_agg(queue) FROM stored),
         (SELECT count(*) FROM o),
         -- Only for follow-ups (CASE leaves the subqueries unrun otherwise).
         CASE WHEN followups IS NOT NULL
              THEN (SELECT array_agg(id) FILTER (WHERE state = 'succeeded') FROM stored) END,
         CASE WHEN followups IS NOT NULL
              THEN (SELECT array_agg(queue) FILTER (WHERE state = 'succeeded') FROM stored) END
    INTO accepted, ended_queues, given, succeeded, succeeded_queues;

  -- The follow-up tasks of the outcomes accepted as done, in this transaction: they exist if,
  -- and only if, the outcome that pushed them is recorded.
  IF followups IS NOT NULL AND succeeded IS NOT NULL THEN
    PERFORM pgtq.push_followups(task_ids, followups, succeeded, succeeded_queues);
  END IF;

  -- Sessions waiting for one of the tasks that ended learn it (19_task_waits.sql), and the
  -- pending tasks that depend on one are settled (20_dependencies.sql); usually nobody waits
  -- and nothing depends, and this is two probes of empty tables. While tasks pushed with
  -- depends_on are live, two index probes tell whether these tasks are among them or their
  -- parents.
  IF accepted IS NOT NULL
     AND (EXISTS (SELECT 1 FROM pgtq.task_waiters)
          OR EXISTS (SELECT 1 FROM pgtq.task_dependencies)
             AND (EXISTS (SELECT 1 FROM pgtq.task_dependencies d
                           WHERE d.parent_id = ANY (accepted) AND d.parent_state IS NULL)
                  OR EXISTS (SELECT 1 FROM pgtq.task_dependencies d
                              WHERE d.task_id = ANY (accepted)))
          OR current_setting('transaction_isolation') <> 'read committed') THEN
    PERFORM pgtq.tasks_ended(accepted);
  END IF;

  -- Most batches hold only "done" outcomes: then there is nothing to schedule again.
  IF 'retry' = ANY (statuses) OR 'snooze' = ANY (statuses) THEN
    WITH o AS (
      SELECT x.id, x.claim, x.status,
             CASE WHEN octet_length(x.error) > 65536 THEN pgtq.clip_error(x.error)
                  ELSE x.error END AS error,
             CASE WHEN x.retry_in IS NULL OR x.retry_in = 'NaN' OR x.retry_in <= 0 THEN 0
                  WHEN x.retry_in > 3155760000 THEN 3155760000
                  ELSE x.retry_in END AS retry_in,
             x.new_progress, x.new_checkpoint
        FROM unnest(task_ids, task_claims, statuses, errors, retry_in, progress, checkpoints)
          AS x(id, claim, status, error, retry_in, new_progress, new_checkpoint)
       WHERE x.status IN ('retry', 'snooze')
    ), again AS (
      UPDATE pgtq.live_tasks l
         SET state = CASE WHEN o.retry_in <= 0 THEN 'queued' ELSE 'scheduled' END::pgtq.task_state,
             run_at = clock_timestamp() + make_interval(secs => o.retry_in),
             attempts = CASE WHEN o.status = 'snooze' THEN greatest(l.attempts - 1, 0)
                             ELSE l.attempts END,
             locked_by = NULL, locked_until = NULL, claim = NULL,
             progress = coalesce(o.new_progress, l.progress),
             checkpoint = coalesce(o.new_checkpoint, l.checkpoint),
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
COMMENT ON FUNCTION pgtq.finish_many(bigint[], bigint[], text[], jsonb[], text[], float8[], jsonb[], jsonb[], jsonb[]) IS
'Records outcomes given as arrays of one length (<= 100000; 54000 beyond): task_ids[i] and task_claims[i] (not NULL), statuses[i] done|retry|fail|snooze, results[i] (done only; <= 1 MiB as text, <= 100 deep, 54000 otherwise), errors[i] (cut to 64 KiB), retry_in[i] seconds (clamped to 0..3155760000; NULL, negative, NaN: 0); progress[i] (<= 64 KiB) and checkpoints[i] (<= 1 MiB; kept for the next attempt of a retry or snooze), NULL: unchanged; followups[i]: a JSON array of pgtq.push_many elements, each with an optional "queue" (default the task''s), pushed only if outcome i is accepted as done (a refused one fails the call with push_many''s SQLSTATE, e.g. 22023, 23503 or 54000, naming the task). The last three arrays may be NULL. The form pgtqd uses. An id twice or a bad status: 22023; a NULL array or id: 22004; nothing recorded on any error. Returns the ids whose claim was no longer current.';

CREATE OR REPLACE FUNCTION pgtq.tick(max_count integer DEFAULT 10000,
                          OUT promoted integer, OUT rescued integer,
                          OUT failed integer, OUT next_due timestamptz)
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
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

CREATE OR REPLACE FUNCTION pgtq.release(task_ids bigint[], task_claims bigint[])
RETURNS integer
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  requeued  integer;
  cancelled integer;
  wake      text[];
  ended     text[];
  ended_ids bigint[];
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
    RETURNING id, queue
  ), back AS (
    UPDATE pgtq.live_tasks l
       SET state = 'queued', attempts = greatest(l.attempts - 1, 0), locked_by = NULL,
           locked_until = NULL, claim = NULL
      FROM held
     WHERE l.id = held.id AND NOT l.cancel_requested
    RETURNING l.queue
  )
  SELECT (SELECT count(*) FROM back), (SELECT count(*) FROM stored),
         (SELECT array_agg(DISTINCT queue) FROM back), (SELECT array_agg(queue) FROM stored),
         (SELECT array_agg(id) FROM stored)
    INTO requeued, cancelled, wake, ended, ended_ids;
  PERFORM pgtq.wake_queue(q) FROM unnest(wake) AS q WHERE octet_length(q) < 7900;
  IF ended IS NOT NULL THEN
    PERFORM pgtq.wake_limited(ended); -- a cancelled task of a limited queue leaves room
    PERFORM pgtq.tasks_ended(ended_ids);
  END IF;
  RETURN requeued + cancelled;
END $$;
COMMENT ON FUNCTION pgtq.release(bigint[], bigint[]) IS
'Gives claimed tasks back unfinished: queued again, attempt given back (a task whose cancellation was requested ends cancelled). Arrays of equal length; NULL elements match nothing; a task named twice counts once. Returns how many were still held. Errors: 22004 NULL array, 22023 lengths differ.';

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
  WITH gone AS (DELETE FROM pgtq.live_tasks l WHERE l.id = cancel.id RETURNING l AS task)
  INSERT INTO pgtq.finished_tasks
  SELECT (pgtq.finished_row(g.task, 'cancelled', NULL, (g.task).last_error, false)).*
    FROM gone g;
  PERFORM pgtq.tasks_ended(ARRAY[cancel.id]);
  RETURN true;
END $$;
COMMENT ON FUNCTION pgtq.cancel(bigint) IS
'Cancels a task: a waiting one ends cancelled, a running one is asked to stop (NOTIFY pgtq_cancel). False: unknown or already finished. Errors: 22004 NULL id.';

CREATE OR REPLACE VIEW pgtq.tasks AS
  SELECT id, queue, task, args, state, priority, run_at, attempts, max_attempts,
         created_at, started_at, NULL::timestamptz AS finished_at, locked_by, locked_until,
         NULL::jsonb AS result, last_error, errors, timeout, unique_key, fairness_key, tags,
         metadata, depends_on, on_parent_failure, progress, checkpoint
    FROM pgtq.live_tasks
  UNION ALL
  SELECT id, queue, task, args, state, priority, run_at, attempts, max_attempts,
         created_at, started_at, finished_at, locked_by, NULL::timestamptz AS locked_until,
         result, last_error, errors, timeout, unique_key, fairness_key, tags, metadata,
         depends_on, on_parent_failure, progress, NULL::jsonb AS checkpoint
    FROM pgtq.finished_tasks;

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

CREATE OR REPLACE FUNCTION pgtq.cancel_all(queue text DEFAULT NULL, task text DEFAULT NULL,
                                created_after timestamptz DEFAULT NULL,
                                created_before timestamptz DEFAULT NULL,
                                states pgtq.task_state[] DEFAULT '{queued,scheduled}',
                                max_count integer DEFAULT 10000,
                                dry_run boolean DEFAULT false)
RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
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

CREATE OR REPLACE FUNCTION pgtq.delete(id bigint) RETURNS boolean
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
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

CREATE OR REPLACE FUNCTION pgtq.delete_all(states pgtq.task_state[], queue text DEFAULT NULL,
                                task text DEFAULT NULL,
                                created_after timestamptz DEFAULT NULL,
                                created_before timestamptz DEFAULT NULL,
                                max_count integer DEFAULT 10000,
                                dry_run boolean DEFAULT false)
RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
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

CREATE OR REPLACE FUNCTION pgtq.update(id bigint, args jsonb DEFAULT NULL, priority integer DEFAULT NULL,
                            run_at timestamptz DEFAULT NULL, max_attempts integer DEFAULT NULL,
                            timeout interval DEFAULT NULL)
RETURNS boolean
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
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

CREATE OR REPLACE VIEW pgtq.queue_stats AS
  WITH live AS (
    SELECT l.queue,
           count(*) FILTER (WHERE l.state = 'queued') AS queued,
           count(*) FILTER (WHERE l.state = 'scheduled') AS scheduled,
           count(*) FILTER (WHERE l.state = 'running') AS running,
           count(*) FILTER (WHERE l.state = 'pending') AS pending,
           min(l.run_at) FILTER (WHERE l.state = 'queued') AS oldest_queued_at,
           count(DISTINCT l.fairness_key) FILTER (WHERE l.state = 'queued') AS queued_keys
      FROM pgtq.live_tasks l GROUP BY l.queue
  ), recent AS (
    SELECT f.queue,
           count(*) FILTER (WHERE f.state = 'succeeded') AS succeeded,
           count(*) FILTER (WHERE f.state = 'failed') AS failed,
           count(*) FILTER (WHERE f.state = 'cancelled') AS cancelled,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY f.started_at - f.run_at)
             FILTER (WHERE f.started_at >= f.run_at) AS wait_p50,
           percentile_cont(0.95) WITHIN GROUP (ORDER BY f.started_at - f.run_at)
             FILTER (WHERE f.started_at >= f.run_at) AS wait_p95,
           percentile_cont(0.5) WITHIN GROUP (ORDER BY f.finished_at - f.started_at)
             FILTER (WHERE f.started_at >= f.run_at) AS run_p50,
           percentile_cont(0.95) WITHIN GROUP (ORDER BY f.finished_at - f.started_at)
             FILTER (WHERE f.started_at >= f.run_at) AS run_p95
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
         q.key_concurrency, coalesce(live.queued_keys, 0) AS queued_keys,
         q.key_rate_limit, q.key_rate_period,
         recent.wait_p50 AS wait_p50_last_hour, recent.wait_p95 AS wait_p95_last_hour,
         recent.run_p50 AS run_p50_last_hour, recent.run_p95 AS run_p95_last_hour,
         coalesce(live.pending, 0) AS pending
    FROM names n
    LEFT JOIN live ON live.queue = n.queue
    LEFT JOIN recent ON recent.queue = n.queue
    LEFT JOIN workers ON workers.queue = n.queue
    LEFT JOIN pgtq.queues q ON q.queue = n.queue;
COMMENT ON VIEW pgtq.queue_stats IS
  'One row per queue with live tasks, tasks ended in the last hour, settings or live workers: queued, scheduled, running, oldest_queued_age (how long the oldest due task has waited), succeeded/failed/cancelled in the last hour, live workers and their slots, paused and limits, queued_keys (how many fairness keys have queued tasks), the rate limit per fairness key, and of the tasks ended in the last hour the median and 95th percentile of their wait (due to started, of the last attempt) and run time (NULL: none started), and pending (tasks waiting for the tasks they depend on).';

COMMENT ON FUNCTION pgtq.notify_ended(bigint[]) IS
'Notifies pgtq_ended (at commit) for each of ids that a session waits for (pgtq.watch_task); outside READ COMMITTED once, with an empty payload. After ending or deleting tasks by hand, call pgtq.tasks_ended, which calls it and settles the tasks that depend on them.';

-- Raises the precise error for depends_on and on_parent_failure as a push gives them; what
-- (e.g. 'pgtq.push: ') starts each message.
CREATE FUNCTION pgtq.check_depends_on(what text, depends_on bigint[], on_parent_failure text)
RETURNS void
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF on_parent_failure IS NULL THEN
    RAISE EXCEPTION '%on_parent_failure must not be NULL', what
      USING ERRCODE = 'null_value_not_allowed';
  END IF;
  IF on_parent_failure NOT IN ('cancel', 'run') THEN
    RAISE EXCEPTION '%on_parent_failure must be cancel or run, got "%"', what, on_parent_failure
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF depends_on IS NULL THEN
    RETURN;
  END IF;
  IF coalesce(array_ndims(depends_on), 1) <> 1 THEN
    RAISE EXCEPTION '%depends_on must be a one-dimensional array of task ids', what
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF array_position(depends_on, NULL) IS NOT NULL THEN
    RAISE EXCEPTION '%depends_on[%] must not be NULL', what, array_position(depends_on, NULL)
      USING ERRCODE = 'null_value_not_allowed';
  END IF;
  IF cardinality(depends_on) > 10000 THEN
    RAISE EXCEPTION '%depends_on names % tasks; at most 10000', what, cardinality(depends_on)
      USING ERRCODE = 'program_limit_exceeded';
  END IF;
END $$;

-- Locks the live tasks among parents FOR KEY SHARE (waiting for one whose end is being
-- committed), then, in a statement that sees what committed meanwhile, refuses (23503) the
-- first id that is no task at all. A push calls it before it inserts the dependent, so that
-- a refused push draws no id; the locks stay until the push's transaction ends.
CREATE FUNCTION pgtq.lock_parents(what text, parents bigint[]) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  missing bigint;
BEGIN
  PERFORM 1 FROM pgtq.live_tasks l WHERE l.id = ANY (parents) ORDER BY l.id FOR KEY SHARE;
  SELECT p.id INTO missing FROM unnest(parents) AS p(id)
   WHERE NOT EXISTS (SELECT 1 FROM pgtq.live_tasks l WHERE l.id = p.id)
     AND NOT EXISTS (SELECT 1 FROM pgtq.finished_tasks f WHERE f.id = p.id)
   ORDER BY p.id LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION '%depends_on: no task has id %', what, missing
      USING ERRCODE = 'foreign_key_violation';
  END IF;
END $$;

-- Records that the new task id (pending, pushed in this transaction after lock_parents)
-- waits for parents (distinct ids), then settles it at once if every parent has ended
-- already: a task whose policy is cancel and one of whose parents has already failed ends
-- cancelled here, at its push. A parent deleted since lock_parents is refused (23503).
CREATE FUNCTION pgtq.add_dependencies(what text, id bigint, parents bigint[]) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  missing bigint;
BEGIN
  INSERT INTO pgtq.task_dependencies (task_id, parent_id, parent_task, parent_state,
                                      parent_result)
  SELECT add_dependencies.id, p.id, coalesce(l.task, f.task),
         CASE WHEN l.id IS NULL THEN f.state::text END, f.result
    FROM unnest(parents) AS p(id)
    LEFT JOIN pgtq.live_tasks l ON l.id = p.id
    LEFT JOIN pgtq.finished_tasks f ON l.id IS NULL AND f.id = p.id
   WHERE l.id IS NOT NULL OR f.id IS NOT NULL;
  IF NOT FOUND OR (SELECT count(*) FROM pgtq.task_dependencies d
                    WHERE d.task_id = add_dependencies.id) < cardinality(parents) THEN
    SELECT p.id INTO missing FROM unnest(parents) AS p(id)
     WHERE NOT EXISTS (SELECT 1 FROM pgtq.task_dependencies d
                        WHERE d.task_id = add_dependencies.id AND d.parent_id = p.id)
     ORDER BY p.id LIMIT 1;
    RAISE EXCEPTION '%depends_on: no task has id %', what, missing
      USING ERRCODE = 'foreign_key_violation';
  END IF;
  PERFORM pgtq.tasks_ended(pgtq.settle_pending(ARRAY[add_dependencies.id]));
END $$;

-- Decides the pending tasks among ids whose rows say enough, with their rows locked by the
-- caller: one with on_parent_failure = cancel and a parent that did not succeed ends
-- cancelled ("parent task 12 failed"); one whose parents have all ended becomes queued (or
-- scheduled, when its run_at is still ahead) and wakes whoever waits for it. Returns the ids
-- of the tasks it cancelled, for tasks_ended.
CREATE FUNCTION pgtq.settle_pending(ids bigint[]) RETURNS bigint[]
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  cancelled      bigint[];
  wake           text[];
  earliest_later timestamptz;
BEGIN
  WITH doomed AS (
    SELECT l.id,
           (SELECT d.parent_id || CASE d.parent_state WHEN 'failed' THEN ' failed'
                                   ELSE ' was ' || d.parent_state END
              FROM pgtq.task_dependencies d
             WHERE d.task_id = l.id AND d.parent_state <> 'succeeded'
             ORDER BY d.parent_id LIMIT 1) AS why
      FROM pgtq.live_tasks l
     WHERE l.id = ANY (ids) AND l.state = 'pending' AND l.on_parent_failure = 'cancel'
  ), gone AS (
    DELETE FROM pgtq.live_tasks l USING doomed
     WHERE l.id = doomed.id AND doomed.why IS NOT NULL
    RETURNING l AS task, doomed.why
  ), stored AS (
    INSERT INTO pgtq.finished_tasks
    SELECT (pgtq.finished_row(g.task, 'cancelled', NULL, 'parent task ' || g.why, false)).*
      FROM gone g
    RETURNING id
  )
  SELECT array_agg(s.id) INTO cancelled FROM stored s;

  WITH ready AS (
    UPDATE pgtq.live_tasks l
       SET state = CASE WHEN l.run_at <= clock_timestamp() THEN 'queued'
                        ELSE 'scheduled' END::pgtq.task_state,
           run_at = greatest(l.run_at, clock_timestamp())
     WHERE l.id = ANY (ids) AND l.state = 'pending'
       AND l.id <> ALL (coalesce(cancelled, '{}'))
       AND NOT EXISTS (SELECT 1 FROM pgtq.task_dependencies d
                        WHERE d.task_id = l.id AND d.parent_state IS NULL)
    RETURNING l.queue, l.state, l.run_at
  )
  SELECT array_agg(DISTINCT r.queue) FILTER (WHERE r.state = 'queued'),
         min(r.run_at) FILTER (WHERE r.state = 'scheduled')
    INTO wake, earliest_later FROM ready r;
  PERFORM pgtq.wake_queue(q) FROM unnest(wake) AS q WHERE octet_length(q) < 7900;
  IF earliest_later IS NOT NULL THEN
    PERFORM pgtq.wake_schedulers(earliest_later);
  END IF;
  RETURN cancelled;
END $$;

-- What everything that ends or deletes tasks calls, with their ids, in a statement after the
-- one that removed them from live_tasks: sessions waiting for one learn it (notify_ended,
-- 19_task_waits.sql), the tasks' own dependency rows go, and the pending tasks that depend on
-- them are settled; the tasks that cancels are ended the same way in turn, as a loop rather
-- than a recursion, so that a chain of any length cancels. Usually nobody waits and nothing
-- depends: then it is two probes of empty tables.
CREATE FUNCTION pgtq.tasks_ended(ids bigint[]) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  children bigint[];
BEGIN
  WHILE coalesce(cardinality(ids), 0) > 0 LOOP
    IF EXISTS (SELECT 1 FROM pgtq.task_waiters)
       OR current_setting('transaction_isolation') <> 'read committed' THEN
      PERFORM pgtq.notify_ended(ids);
    END IF;
    IF current_setting('transaction_isolation') <> 'read committed' THEN
      -- Settled by the next tick (see the top of this file); only these tasks' own rows go.
      DELETE FROM pgtq.task_dependencies d WHERE d.task_id = ANY (ids);
      INSERT INTO pgtq.unsettled_ends (task_id)
      SELECT DISTINCT e.id FROM unnest(ids) AS e(id)
      ON CONFLICT DO NOTHING;
      EXIT;
    END IF;
    EXIT WHEN NOT EXISTS (SELECT 1 FROM pgtq.task_dependencies);
    DELETE FROM pgtq.task_dependencies d WHERE d.task_id = ANY (ids);
    children := ARRAY(SELECT DISTINCT d.task_id FROM pgtq.task_dependencies d
                       WHERE d.parent_id = ANY (ids) AND d.parent_state IS NULL);
    EXIT WHEN cardinality(children) = 0;
    -- The waiting tasks first, in id order (see the top of this file); then, in statements
    -- that see what committed while this waited, their rows and their fate.
    -- NO KEY UPDATE: two enders still take turns, and a push of a task that depends on one of
    -- these (FOR KEY SHARE) is not waited for unless the task is to be cancelled (deleted).
    PERFORM 1 FROM pgtq.live_tasks l WHERE l.id = ANY (children) ORDER BY l.id
        FOR NO KEY UPDATE;
    UPDATE pgtq.task_dependencies d
       SET parent_state = coalesce(f.state::text, 'deleted'), parent_result = f.result
      FROM unnest(ids) AS e(id) LEFT JOIN pgtq.finished_tasks f ON f.id = e.id
     WHERE d.parent_id = e.id AND d.parent_state IS NULL
       AND NOT EXISTS (SELECT 1 FROM pgtq.live_tasks l WHERE l.id = e.id);
    ids := pgtq.settle_pending(children);
  END LOOP;
END $$;
COMMENT ON FUNCTION pgtq.tasks_ended(bigint[]) IS
'Call after ending or deleting tasks by hand (ids: theirs), in a later statement of the same transaction: notifies the sessions waiting for them (pgtq_ended) and settles the pending tasks that depend on them (queued once every parent has ended; cancelled when one failed and their on_parent_failure is cancel). Outside READ COMMITTED it records the ids in pgtq.unsettled_ends, and the next pgtq.tick settles them.';

-- Pushes the follow-up tasks of the done outcomes that finish_many accepted (done_ids, with
-- their queues), in the caller's transaction: followups[i], a JSON array of push_many elements
-- with an optional "queue" (default: the queue of task_ids[i]), belongs to task_ids[i]. One
-- push_many per task and queue, in the order given; a refusal names the task whose follow-ups
-- it refused, with push_many's SQLSTATE and message.
CREATE FUNCTION pgtq.push_followups(task_ids bigint[], followups jsonb[], done_ids bigint[],
                                    done_queues text[])
RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  r       record;
  failure text;
  state   text;
BEGIN
  FOR r IN SELECT u.id, coalesce(x.elem->>'queue', d.queue) AS queue,
                  jsonb_agg(x.elem - 'queue' ORDER BY x.ord) AS tasks
             FROM unnest(task_ids, followups) WITH ORDINALITY AS u(id, list, ord)
             JOIN unnest(done_ids, done_queues) AS d(id, queue) ON d.id = u.id
            CROSS JOIN LATERAL jsonb_array_elements(u.list) WITH ORDINALITY AS x(elem, ord)
            WHERE u.list IS NOT NULL
            GROUP BY u.ord, u.id, 2 ORDER BY u.ord, min(x.ord) LOOP
    BEGIN
      PERFORM pgtq.push_many(r.queue, r.tasks);
    EXCEPTION WHEN OTHERS THEN
      GET STACKED DIAGNOSTICS failure = MESSAGE_TEXT, state = RETURNED_SQLSTATE;
      RAISE EXCEPTION 'pgtq.finish_many: follow-ups of task % to queue "%": %', r.id, r.queue,
        failure USING ERRCODE = state;
    END;
  END LOOP;
END $$;

-- The parents of task id (push's depends_on) as a JSON array in id order, one object each:
--   {"id": 12, "task": "resize", "state": "succeeded", "result": {...}}
-- state is the parent's end state (succeeded, failed, cancelled, or deleted when it was
-- deleted before it ended), or its live state while it has not ended; result is its result
-- when it succeeded, else null. While the task is live these come from what was kept as each
-- parent ended; for a task retried from the history (pgtq.retry), from the history as it is.
-- [] for a task without parents; NULL for an unknown id. The results fill at most 16 MiB as
-- text, in id order: the parents past it have "result": null and "result_omitted": true, so
-- that 10,000 parents of 1 MiB results cannot make every claim of the task fail (jsonb holds
-- at most 255 MiB; a worker's frame, 64 MiB).
CREATE FUNCTION pgtq.task_parents(id bigint) RETURNS jsonb
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT coalesce(jsonb_agg(jsonb_build_object('id', r.id, 'task', r.task, 'state', r.state,
                                               'result', CASE WHEN r.within THEN r.result END)
                            || CASE WHEN r.within THEN '{}'::jsonb
                                    ELSE '{"result_omitted": true}'::jsonb END
                            ORDER BY r.id) FILTER (WHERE r.id IS NOT NULL), '[]'::jsonb)
    FROM (SELECT p.id, coalesce(d.parent_task, l.task, f.task) AS task,
                 coalesce(d.parent_state, l.state::text, f.state::text, 'deleted') AS state,
                 coalesce(d.parent_result, f.result) AS result,
                 coalesce(sum(octet_length(coalesce(d.parent_result, f.result)::text))
                            OVER (ORDER BY p.id), 0) <= 16777216 AS within
            FROM (SELECT t.depends_on FROM pgtq.live_tasks t WHERE t.id = task_parents.id
                  UNION ALL
                  SELECT t.depends_on FROM pgtq.finished_tasks t WHERE t.id = task_parents.id
                  LIMIT 1) AS c
            LEFT JOIN LATERAL unnest(c.depends_on) AS p(id) ON true
            LEFT JOIN pgtq.task_dependencies d
              ON d.task_id = task_parents.id AND d.parent_id = p.id
            LEFT JOIN pgtq.live_tasks l ON d.parent_state IS NULL AND l.id = p.id
            LEFT JOIN pgtq.finished_tasks f
              ON d.task_id IS NULL AND l.id IS NULL AND f.id = p.id) AS r
  HAVING count(*) > 0
$$;
COMMENT ON FUNCTION pgtq.task_parents(bigint) IS
'The tasks task id depends on (push''s depends_on) as a JSON array in id order of {id, task, state, result}: state succeeded, failed, cancelled or deleted once a parent ended (its live state before), result its result if it succeeded (else null); results past the first 16 MiB in total are null, with "result_omitted": true. [] without parents; NULL for an unknown id. Errors: none (NULL id: NULL).';

-- True when value (NULL allowed) is within max_bytes as text and 100 levels deep.
CREATE FUNCTION pgtq.report_ok(value jsonb, max_bytes integer) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
  SELECT value IS NULL
         OR octet_length(value::text) <= max_bytes
            AND (pg_column_size(value) < 800 AND pg_column_compression(value) IS NULL
                 OR NOT pgtq.too_deep(value))
$$;

-- True when a follow-up list (finish_many's followups[i]) has the right shape: NULL, or a
-- JSON array of objects whose "queue", if given, is a string. push_many checks the rest.
CREATE FUNCTION pgtq.followups_ok(list jsonb) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
  SELECT list IS NULL
         OR jsonb_typeof(list) = 'array'
            AND NOT list @? 'strict $[*] ? (@.type() != "object"
                                            || exists(@.queue) && @.queue.type() != "string")'
$$;

-- True when finish_many's optional arrays are acceptable for a batch of given outcomes: each
-- NULL, or one-dimensional, as long as the batch, and every element within its limits.
CREATE FUNCTION pgtq.reports_ok(given integer, progress jsonb[], checkpoints jsonb[],
                                followups jsonb[])
RETURNS boolean
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT coalesce((progress IS NULL
                   OR coalesce(array_ndims(progress), 1) = 1 AND cardinality(progress) = given
                      AND NOT EXISTS (SELECT 1 FROM unnest(progress) AS p(v)
                                       WHERE NOT pgtq.report_ok(p.v, 65536)))
                  AND (checkpoints IS NULL
                       OR coalesce(array_ndims(checkpoints), 1) = 1
                          AND cardinality(checkpoints) = given
                          AND NOT EXISTS (SELECT 1 FROM unnest(checkpoints) AS c(v)
                                           WHERE NOT pgtq.report_ok(c.v, 1048576)))
                  AND (followups IS NULL
                       OR coalesce(array_ndims(followups), 1) = 1
                          AND cardinality(followups) = given
                          AND NOT EXISTS (SELECT 1 FROM unnest(followups) AS f(v)
                                           WHERE NOT pgtq.followups_ok(f.v))), false)
$$;

-- Raises the precise error for one progress and one checkpoint value over their limits; what
-- starts the message, suffix follows the argument's name ('[3]').
CREATE FUNCTION pgtq.check_report(what text, suffix text, progress jsonb, checkpoint jsonb)
RETURNS void
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF octet_length(progress::text) > 65536 THEN
    RAISE EXCEPTION '%progress% is % bytes as JSON text, the limit is 65536', what, suffix,
      octet_length(progress::text) USING ERRCODE = 'program_limit_exceeded';
  END IF;
  IF progress IS NOT NULL THEN
    PERFORM pgtq.check_json_limits(what || 'progress' || suffix, progress);
  END IF;
  IF checkpoint IS NOT NULL THEN
    PERFORM pgtq.check_json_limits(what || 'checkpoint' || suffix, checkpoint);
  END IF;
END $$;

-- Writes what handlers reported about their running tasks, as arrays of one length:
-- task_ids[i] and task_claims[i] (the attempt: nothing is written once its claim is no longer
-- current), progress[i] and checkpoints[i] (NULL: unchanged). A row locked by another session
-- (an outcome being recorded, an operator) is skipped, not waited for: what is reported next,
-- or with the outcome, comes after it. Returns how many tasks were written. pgtqd calls it
-- at most once a second per queue.
CREATE FUNCTION pgtq.report(task_ids bigint[], task_claims bigint[], progress jsonb[],
                            checkpoints jsonb[])
RETURNS integer
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_generic_plan SET enable_seqscan = off SET jit = off AS $$
DECLARE
  written integer;
BEGIN
  PERFORM pgtq.check_id_claims('pgtq.report', task_ids, task_claims);
  IF NOT pgtq.reports_ok(cardinality(task_ids), progress, checkpoints, NULL) THEN
    IF coalesce(array_ndims(progress), 1) <> 1 OR coalesce(array_ndims(checkpoints), 1) <> 1
       OR cardinality(progress) <> cardinality(task_ids)
       OR cardinality(checkpoints) <> cardinality(task_ids) THEN
      RAISE EXCEPTION 'pgtq.report: progress and checkpoints must be NULL or one-dimensional '
        'arrays as long as task_ids (%)', cardinality(task_ids)
        USING ERRCODE = 'invalid_parameter_value';
    END IF;
    FOR i IN 1 .. cardinality(task_ids) LOOP
      PERFORM pgtq.check_report('pgtq.report: ', '[' || i || ']', progress[i], checkpoints[i]);
    END LOOP;
  END IF;
  WITH given AS (
    SELECT DISTINCT ON (r.id) r.id, r.claim, r.new_progress, r.new_checkpoint
      FROM unnest(task_ids, task_claims, progress, checkpoints)
        AS r(id, claim, new_progress, new_checkpoint)
     WHERE r.id IS NOT NULL AND (r.new_progress IS NOT NULL OR r.new_checkpoint IS NOT NULL)
     ORDER BY r.id
  ), lockable AS (
    SELECT l.id FROM pgtq.live_tasks l JOIN given g ON l.id = g.id AND l.claim = g.claim
     WHERE l.id = ANY (task_ids) AND l.state = 'running'
       FOR NO KEY UPDATE OF l SKIP LOCKED
  )
  UPDATE pgtq.live_tasks l
     SET progress = coalesce(g.new_progress, l.progress),
         checkpoint = coalesce(g.new_checkpoint, l.checkpoint)
    FROM lockable k JOIN given g ON g.id = k.id
   WHERE l.id = ANY (task_ids) AND l.id = k.id;
  GET DIAGNOSTICS written = ROW_COUNT;
  RETURN written;
END $$;
COMMENT ON FUNCTION pgtq.report(bigint[], bigint[], jsonb[], jsonb[]) IS
'Writes handlers'' reports on running tasks held under (task_ids[i], task_claims[i]): progress[i] (any JSON, <= 64 KiB; shown in pgtq.tasks) and checkpoints[i] (any JSON, <= 1 MiB; handed to the next attempt by pgtq.claim), NULL: unchanged; arrays may be NULL. Rows locked elsewhere are skipped. Returns how many tasks were written. Errors: 22004 NULL array or id, 22023 lengths differ, 54000 too large or deep.';

-- The same for one task, for programs that work tasks without pgtqd (pgtq.pop). Returns false
-- when the claim is no longer current (or the row is locked by another session right now).
CREATE FUNCTION pgtq.report(id bigint, claim bigint, progress jsonb DEFAULT NULL,
                            checkpoint jsonb DEFAULT NULL)
RETURNS boolean
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  PERFORM pgtq.check_id_claim('pgtq.report', report.id, report.claim);
  PERFORM pgtq.check_report('pgtq.report: ', '', report.progress, report.checkpoint);
  RETURN pgtq.report(ARRAY[report.id], ARRAY[report.claim], ARRAY[report.progress],
                     ARRAY[report.checkpoint]) = 1;
END $$;
COMMENT ON FUNCTION pgtq.report(bigint, bigint, jsonb, jsonb) IS
'Writes progress (any JSON, <= 64 KiB; shown in pgtq.tasks) and checkpoint (any JSON, <= 1 MiB; handed to the next attempt by pgtq.claim) of a claimed task; NULL: unchanged. False: the claim is no longer current, or the row is locked right now. Errors: 22004 NULL id or claim, 54000 too large or deep.';
