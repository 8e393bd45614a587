-- Dependencies and follow-ups: a task pushed with depends_on (pgtq.push, push_many's JSON form) waits in
-- state pending until the tasks it names (its parents) have ended, then runs; the tasks
-- that end first are its parents, so no cycle can form. on_parent_failure says what it does
-- when a parent fails for good, is cancelled or is deleted: cancel (it ends cancelled, and so
-- do the pending tasks that depend on it with the same policy) or run (it runs once every
-- parent has ended, whatever their states: a fan-in). Its handler reads the parents' end
-- states and results (pgtq.task_parents; pgtqd hands them over with the claim), which
-- pgtq.task_dependencies keeps from the moment each parent ends, so that retention cannot
-- take them away first. A handler's follow-up tasks (plugin.h's task_push_followup) are pushed
-- by finish_many, in the transaction that records the handler's outcome, and only when that
-- outcome is accepted as done (push_followups).
--
-- Why no end is missed. The push locks each live parent FOR KEY SHARE, in a statement before
-- the one that writes the rows: a parent whose end is being committed is waited for (and
-- then read as ended), and one that is still live cannot be deleted from live_tasks until
-- the push commits. Whatever ends a task calls pgtq.tasks_ended in a statement after the one
-- that removed it, so in READ COMMITTED it sees every row a push committed before the
-- removal could go on. tasks_ended locks the pending tasks it settles before it writes their
-- rows, so that two parents of one task ending at the same instant settle it one after the
-- other, the second seeing the first's row. Outside READ COMMITTED a snapshot may be older
-- than a push or than another end, and a decision taken on it could leave a task pending for
-- good: such a transaction settles nothing, and records the ids it ended in
-- pgtq.unsettled_ends instead, which the next pgtq.tick settles in READ COMMITTED.

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
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
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
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
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
