-- push_many with unique keys: the errors of its elements (a key held, with on_conflict
-- raise) name the element ("pgtq.push_many: unique_keys[3]: ..."), and a key given twice in one
-- raise call is refused before anything is pushed, naming both elements.

CREATE OR REPLACE FUNCTION pgtq.push_many(queue text, tasks text[], args jsonb[],
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
  at        integer;            -- the element being pushed (keyed calls)
  failure   text;
  failure_state text;
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
                                     ELSE 'ignore' END);
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
