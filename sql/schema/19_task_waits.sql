-- Waiting for a task to end: the application that pushed a task waits for its state and
-- result, woken by a notification when it ends.
--
-- A notification is delivered only between transactions, so only a client can be woken by
-- one; pgtq.wait, for plain SQL, looks again every 10 ms instead. A client waits like this
-- (pgtq::wait_for_task in client/include/pgtq/client/waits.hpp; any language can do the same):
--   1. LISTEN pgtq_ended, then SELECT pgtq.watch_task(id), each committed (autocommit);
--   2. SELECT * FROM pgtq.task_status(id): the task as it is; done if it has ended;
--   3. sleep until a notification on pgtq_ended whose payload is the id (or empty: "look
--      again"), then go back to 2; then pgtq.unwatch_task(id) and UNLISTEN.
--
-- Why no end is missed. Whatever ends or deletes a task (finish_many, tick, release, cancel,
-- cancel_all, delete, delete_all) removes its live_tasks row and then, in a later statement
-- with a newer snapshot, notifies each of the ended tasks that has a registration
-- (pgtq.tasks_ended, 20_dependencies.sql, which calls pgtq.notify_ended). task_status reads the live row FOR KEY SHARE, which waits for a
-- transaction that has deleted it to end. So either the ending transaction deleted the row
-- before step 2: step 2 waits for it and sees the task ended; or it deletes the row after
-- step 2: its notifying statement comes later still, sees the registration committed in
-- step 1 and notifies. Outside READ COMMITTED a snapshot may predate the registration, so
-- such transactions notify with an empty payload, which every waiter takes as "look again".
-- Claims, heartbeats and tick lock rows FOR NO KEY UPDATE SKIP LOCKED, which KEY SHARE does
-- not block: under FOR UPDATE a claim right after a push skipped the task the waiter was
-- reading, and the worker slept until its next poll. task_status itself needs READ
-- COMMITTED (its second read must see, in a new snapshot, the end its lock waited for).
--
-- Notifying costs a pushing or finishing transaction PostgreSQL's instance-wide notify lock
-- at commit (09_wake_ups.sql), so only tasks somebody waits for are notified: pgtqd's batches
-- of outcomes pay one probe of an empty table.

-- Registers this session (its backend pid) as waiting for task id to end. The caller must
-- LISTEN on pgtq_ended and commit the registration before it reads the task with
-- task_status. Returns true when the session was not registered for it before. A
-- registration outlives the wait only until unwatch_task or the end of the session.
CREATE FUNCTION pgtq.watch_task(id bigint) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  inserted boolean;
BEGIN
  IF watch_task.id IS NULL THEN
    RAISE EXCEPTION 'pgtq.watch_task: id must not be NULL' USING ERRCODE = 'null_value_not_allowed';
  END IF;
  INSERT INTO pgtq.task_waiters AS w (task_id, pid) VALUES (watch_task.id, pg_backend_pid())
  ON CONFLICT ON CONSTRAINT task_waiters_pkey DO NOTHING
  RETURNING true INTO inserted;
  RETURN coalesce(inserted, false);
END $$;
COMMENT ON FUNCTION pgtq.watch_task(bigint) IS
'Registers this session as waiting for task id to end: whatever ends or deletes it then notifies pgtq_ended with the id as payload (an empty payload: look again). LISTEN pgtq_ended and commit this before reading the task with pgtq.task_status. Returns true when the session was not registered for it before. Errors: 22004 NULL id.';

-- Removes this session's registration for task id, or all of them (id NULL). Returns how
-- many it removed.
CREATE FUNCTION pgtq.unwatch_task(id bigint DEFAULT NULL) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  removed integer;
BEGIN
  DELETE FROM pgtq.task_waiters w
   WHERE w.pid = pg_backend_pid() AND (unwatch_task.id IS NULL OR w.task_id = unwatch_task.id);
  GET DIAGNOSTICS removed = ROW_COUNT;
  RETURN removed;
END $$;
COMMENT ON FUNCTION pgtq.unwatch_task(bigint) IS
'Removes this session''s registration for task id (NULL: all of them), made by pgtq.watch_task. Returns how many were removed.';

-- Task id as it is now: one row, or none when no task has the id (never pushed, deleted, or
-- removed by retention). A live task's row is read FOR KEY SHARE, which waits for a
-- transaction that is ending or deleting it (see the top of this file): call it outside a
-- transaction block (the lock lasts until the transaction ends), in READ COMMITTED, on the
-- primary, after watch_task has committed. To read a task inside a transaction, read
-- pgtq.tasks.
CREATE FUNCTION pgtq.task_status(id bigint)
RETURNS TABLE (state pgtq.task_state, result jsonb, last_error text, attempts integer,
               finished_at timestamptz)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF task_status.id IS NULL THEN
    RAISE EXCEPTION 'pgtq.task_status: id must not be NULL'
      USING ERRCODE = 'null_value_not_allowed';
  END IF;
  IF current_setting('transaction_isolation') <> 'read committed' THEN
    RAISE EXCEPTION 'pgtq.task_status: needs READ COMMITTED, this transaction is %',
      upper(current_setting('transaction_isolation')) USING ERRCODE = 'invalid_transaction_state';
  END IF;
  RETURN QUERY
  SELECT l.state, NULL::jsonb, l.last_error, l.attempts, NULL::timestamptz
    FROM pgtq.live_tasks l WHERE l.id = task_status.id FOR KEY SHARE;
  IF FOUND THEN
    RETURN;
  END IF;
  -- A statement of its own: its snapshot sees the end that the lock above waited for. Both
  -- tables in that one snapshot: a retry may have moved the task back meanwhile.
  RETURN QUERY
  SELECT t.state, t.result, t.last_error, t.attempts, t.finished_at
    FROM pgtq.tasks t WHERE t.id = task_status.id;
END $$;
COMMENT ON FUNCTION pgtq.task_status(bigint) IS
'Task id as it is now: state, result (succeeded tasks), last_error, attempts, finished_at (NULL while live); no row when no task has the id. Locks a live task''s row FOR KEY SHARE, waiting for a transaction that is ending or deleting the task: call it outside a transaction block, on the primary; inside one, read pgtq.tasks. Errors: 22004 NULL id, 25000 not READ COMMITTED.';

-- Notifies pgtq_ended for each of ids that a session waits for (pgtq.task_waiters): what
-- everything that ends or deletes tasks calls, through pgtq.tasks_ended, in a statement after
-- the one that did it.
-- Outside READ COMMITTED the transaction's snapshot may predate a registration, so it sends
-- one notification with an empty payload instead, which every waiter takes as "look again".
CREATE FUNCTION pgtq.notify_ended(ids bigint[]) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF coalesce(cardinality(notify_ended.ids), 0) = 0 THEN
    RETURN;
  END IF;
  IF current_setting('transaction_isolation') <> 'read committed' THEN
    PERFORM pg_notify('pgtq_ended', '');
  ELSE
    PERFORM pg_notify('pgtq_ended', w.task_id::text)
       FROM (SELECT DISTINCT t.task_id FROM pgtq.task_waiters t
              WHERE t.task_id = ANY (notify_ended.ids)) w;
  END IF;
END $$;
COMMENT ON FUNCTION pgtq.notify_ended(bigint[]) IS
'Notifies pgtq_ended (at commit) for each of ids that a session waits for (pgtq.watch_task); outside READ COMMITTED once, with an empty payload. After ending or deleting tasks by hand, call pgtq.tasks_ended, which calls it and settles the tasks that depend on them.';

-- Waits up to timeout for task id to end and returns it as task_status does: ended
-- (succeeded, failed, cancelled), or still live when the timeout came first; no row when no
-- task has the id. Looks every 10 ms (without locking), since a function cannot receive notifications; a
-- client waits without polling (see the top of this file). Like any statement, it holds its
-- snapshot while it waits, which keeps vacuum from removing rows deleted meanwhile: hence the
-- limit of one hour.
CREATE FUNCTION pgtq.wait(id bigint, timeout interval DEFAULT interval '30 seconds')
RETURNS TABLE (state pgtq.task_state, result jsonb, last_error text, attempts integer,
               finished_at timestamptz)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  deadline timestamptz;
  seen     record;
BEGIN
  IF wait.id IS NULL OR wait.timeout IS NULL THEN
    RAISE EXCEPTION 'pgtq.wait: % must not be NULL', CASE WHEN wait.id IS NULL THEN 'id' ELSE 'timeout' END
      USING ERRCODE = 'null_value_not_allowed';
  END IF;
  IF NOT (wait.timeout >= interval '0' AND wait.timeout <= interval '1 hour') THEN
    RAISE EXCEPTION 'pgtq.wait: timeout must be between 0 and 1 hour, got %', wait.timeout
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  -- Each look needs a new snapshot, which only READ COMMITTED takes.
  IF current_setting('transaction_isolation') <> 'read committed' THEN
    RAISE EXCEPTION 'pgtq.wait: needs READ COMMITTED, this transaction is %',
      upper(current_setting('transaction_isolation')) USING ERRCODE = 'invalid_transaction_state';
  END IF;
  deadline := clock_timestamp() + wait.timeout;
  LOOP
    -- No lock, unlike task_status: this transaction's lock would hold back the very end it
    -- waits for until the timeout.
    SELECT t.state, t.result, t.last_error, t.attempts, t.finished_at INTO seen
      FROM pgtq.tasks t WHERE t.id = wait.id;
    IF NOT FOUND THEN
      RETURN;
    END IF;
    EXIT WHEN seen.state IN ('succeeded', 'failed', 'cancelled')
              OR clock_timestamp() >= deadline;
    PERFORM pg_sleep(least(0.01, extract(epoch FROM deadline - clock_timestamp())));
  END LOOP;
  RETURN QUERY SELECT seen.state, seen.result, seen.last_error, seen.attempts,
                      seen.finished_at;
END $$;
COMMENT ON FUNCTION pgtq.wait(bigint, interval) IS
'Waits up to timeout (0..1 hour, default 30 seconds) for task id to end; returns it as pgtq.task_status does: ended (succeeded, failed, cancelled) or still live if the timeout came first; no row when no task has the id. Looks every 10 ms; a client that LISTENs waits without polling (pgtq.watch_task). Errors: 22004 NULL, 22023 timeout out of range, 25000 not READ COMMITTED.';
