-- Unique tasks: at most one task of a queue per unique key, kept by the database.
--
-- pgtq.push and pgtq.push_many take a unique_key (1..1024 bytes, any text). A push with a key
-- inserts nothing when a task of the same queue with the same key counts:
--   - every live task (queued, scheduled or running), through the unique index
--     live_tasks_unique: two pushers of one key at the same instant cannot both insert, the
--     second waits for the first's transaction and, if it commits, finds its task;
--   - a finished task in one of unique_states' finished states (succeeded, failed, cancelled)
--     that ended within unique_period (NULL: any the history keeps). unique_states defaults
--     to the live states, plus succeeded when a unique_period is given.
-- on_conflict says what such a push does:
--   ignore   returns the id of the task that holds the key (the default);
--   replace  a queued or scheduled holder becomes the push: it takes its task name, args,
--            priority, run_at (and so state), max_attempts and timeout, and its id is
--            returned; a running or finished holder is left as it is, as with ignore;
--   raise    fails with 23505 unique_violation, naming the holder.
-- A finished holder is looked for before the insert and again after it, in a statement of
-- its own: under READ COMMITTED that one sees a task that finished while the insert waited
-- for its live row, so no push slips between the two tables. Under REPEATABLE READ or
-- SERIALIZABLE it sees the transaction's snapshot only: a task that finished after it was
-- taken does not count.

-- Checks push's unique arguments; what starts a message. Returns the unique_states that apply
-- (the defaults filled in). Errors: 22004 NULL on_conflict or a NULL element of unique_states,
-- 22023 a bad value or an option without a unique_key.
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

-- The finished task of queue with unique_key that counts for a push (in one of states, ended
-- within period), the latest one; NULL when there is none.
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

-- Inserts a checked task with a unique key, or finds the task that holds the key (see the
-- top of this file). states: check_unique's answer. id: the new task's or the holder's;
-- written: true when the task was inserted or replaced (its run_at is start_at then, and
-- the caller wakes whoever waits for it). Raises 23505 when on_conflict is raise.
CREATE FUNCTION pgtq.insert_unique(what text, queue text, task text, args jsonb,
                                   start_at timestamptz, priority integer, max_attempts integer,
                                   timeout interval, unique_key text,
                                   states pgtq.task_state[], period interval, on_conflict text,
                                   fairness_key text, tags text[], metadata jsonb,
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
                                        timeout, unique_key, fairness_key, tags, metadata)
      VALUES (insert_unique.queue, insert_unique.task, insert_unique.args,
              CASE WHEN start_at <= now() THEN 'queued' ELSE 'scheduled' END::pgtq.task_state,
              insert_unique.priority, start_at, insert_unique.max_attempts,
              insert_unique.timeout, insert_unique.unique_key, insert_unique.fairness_key,
              insert_unique.tags, insert_unique.metadata)
      ON CONFLICT (queue, unique_key) WHERE unique_key IS NOT NULL DO UPDATE
        SET task = excluded.task, args = excluded.args, state = excluded.state,
            priority = excluded.priority, run_at = excluded.run_at,
            max_attempts = excluded.max_attempts, timeout = excluded.timeout,
            fairness_key = excluded.fairness_key, tags = excluded.tags,
            metadata = excluded.metadata
        WHERE l.state IN ('queued', 'scheduled')
      RETURNING l.id, l.xmax = 0 INTO id, inserted;
    ELSE
      INSERT INTO pgtq.live_tasks AS l (queue, task, args, state, priority, run_at, max_attempts,
                                        timeout, unique_key, fairness_key, tags, metadata)
      VALUES (insert_unique.queue, insert_unique.task, insert_unique.args,
              CASE WHEN start_at <= now() THEN 'queued' ELSE 'scheduled' END::pgtq.task_state,
              insert_unique.priority, start_at, insert_unique.max_attempts,
              insert_unique.timeout, insert_unique.unique_key, insert_unique.fairness_key,
              insert_unique.tags, insert_unique.metadata)
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
