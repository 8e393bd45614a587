-- Wake-ups: how a push tells waiting workers, without making every pushing transaction
-- take PostgreSQL's notify lock.
--
-- A NOTIFY holds one lock of the whole instance from the pushing transaction's commit until
-- it ends, so pushing transactions of every database commit one at a time (16 clients
-- pushing through a NOTIFY each reached 0.29× the rate of plain INSERTs). A push therefore
-- notifies only while a worker of its queue waits for one: a claim loop whose last claim
-- came back short registers in pgtq.idle_workers before it sleeps; one that has claimed
-- full batches for a while leaves. A busy queue's pushes notify nobody, an idle queue's
-- pushes wake it at once.
--
-- Why no wake-up is lost (docs/architecture.md, "Wake-ups"). Each push first takes the
-- queue's push lock in shared mode (an advisory lock held to the end of its transaction;
-- shared holders never wait for each other), then looks for a registration in a statement
-- of its own, whose snapshot is newer than the lock. Every other writer that makes tasks
-- queued (finish_many's immediate retries, release, tick) does the same through wake_queue. A claim loop going to sleep:
--   1. registers (pgtq.worker_idle) and commits;
--   2. reads which transactions hold the push lock now (pgtq.pushes_in_flight), and asks
--      again until none of those does; it claims after the first read and whenever one of
--      them ends, so that a push that ended meanwhile does not wait for a long one;
--   3. claims once more, then sleeps until a NOTIFY (or its poll timer).
-- A push that looked before the registration was committed holds the lock since before
-- then: it is among those of step 2, or had ended already; either way it has committed or
-- rolled back before step 3's claim, which sees its task. Any other push sees the
-- registration and notifies. In READ COMMITTED each statement has a fresh snapshot; under
-- REPEATABLE READ or SERIALIZABLE a push's snapshot may predate the registration, so such
-- pushes always notify. A push in a transaction that is then PREPAREd (two-phase commit) is
-- refused by PostgreSQL when it notified ("cannot PREPARE a transaction that has executed
-- ... NOTIFY"), that is, when a worker was idle: push outside prepared transactions.
--
-- The push lock of a queue is one of 64 (pgtq's class 1885828209, the queue's hash modulo
-- 64), so that a transaction pushing to many queues holds at most 64 locks: a claim loop may
-- then wait for a push to another queue of its bucket as well, which costs it a moment.
--
-- Delayed tasks wake the schedulers (pgtq_scheduled) the same way, with a lock of their own
-- (bucket 64) and pgtq.waiting_schedulers: a scheduler registers until when it sleeps
-- (pgtq.scheduler_waiting), waits until the delayed pushes that held the lock then have ended
-- (pgtq.delayed_pushes_in_flight), and reads the next due time once more (pgtq.next_due). A
-- delayed push notifies only when its task is due before a registered scheduler wakes; one
-- due later is found by that scheduler's next tick.
--
-- pgtq.push does what wake_queue and wake_schedulers do inline, in its own statements: a
-- nested call of a function with a pinned search_path costs as much as the check itself.

-- pgtq's advisory lock key space (the two-int4 form; applications mostly use one bigint):
-- 'pgtq' as an int4, and the queue's bucket.
CREATE FUNCTION pgtq.wake_queue(queue text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  PERFORM pg_advisory_xact_lock_shared(1885828209, hashtext(wake_queue.queue) & 63);
  IF current_setting('transaction_isolation') <> 'read committed'
     OR EXISTS (SELECT 1 FROM pgtq.idle_workers w WHERE w.queue = wake_queue.queue) THEN
    PERFORM pg_notify('pgtq_wakeup', wake_queue.queue);
  END IF;
END $$;
COMMENT ON FUNCTION pgtq.wake_queue(text) IS
'Wakes the workers waiting on queue, if any (NOTIFY pgtq_wakeup at commit): what push and push_many do for due tasks. Outside READ COMMITTED it always notifies. Call it after writing tasks into live_tasks by hand.';

-- The delayed tasks' counterpart of wake_queue: earliest is the earliest run_at among the
-- scheduled tasks the caller wrote. Notifies pgtq_scheduled (at commit) when a registered
-- scheduler sleeps past it, or always outside READ COMMITTED.
CREATE FUNCTION pgtq.wake_schedulers(earliest timestamptz) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  PERFORM pg_advisory_xact_lock_shared(1885828209, 64);
  IF current_setting('transaction_isolation') <> 'read committed'
     OR EXISTS (SELECT 1 FROM pgtq.waiting_schedulers s
                 WHERE s.wakes_at > coalesce(wake_schedulers.earliest, '-infinity')) THEN
    PERFORM pg_notify('pgtq_scheduled', '');
  END IF;
END $$;
COMMENT ON FUNCTION pgtq.wake_schedulers(timestamptz) IS
'Wakes the schedulers that sleep past earliest (NOTIFY pgtq_scheduled at commit), if any: what push, push_many and finish_many do for delayed tasks. earliest: the earliest run_at written (NULL: wake every registered scheduler). Outside READ COMMITTED it always notifies. Call it after writing scheduled tasks into live_tasks by hand.';

-- Registers this session as a claim loop of queue that sleeps until a NOTIFY; worker names
-- it (1..1024 characters). The caller must have LISTENed on pgtq_wakeup, and must claim once
-- more after pushes_in_flight reports none before it relies on notifications. Returns true
-- when the session was not registered (a new registration, or its row had been removed):
-- the caller registering again at each poll finds out that pushes stopped notifying it.
CREATE FUNCTION pgtq.worker_idle(queue text, worker text) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  inserted boolean;
BEGIN
  PERFORM pgtq.check_name('queue', worker_idle.queue);
  IF worker IS NULL OR length(worker) NOT BETWEEN 1 AND 1024 THEN
    RAISE EXCEPTION 'pgtq.worker_idle: worker must be 1 to 1024 characters long'
      USING ERRCODE = CASE WHEN worker IS NULL THEN 'null_value_not_allowed'
                           ELSE 'invalid_parameter_value' END;
  END IF;
  INSERT INTO pgtq.idle_workers AS w (queue, pid, worker)
  VALUES (worker_idle.queue, pg_backend_pid(), worker)
  ON CONFLICT ON CONSTRAINT idle_workers_pkey DO UPDATE SET worker = excluded.worker
  RETURNING w.xmax = 0 INTO inserted;
  RETURN inserted;
END $$;
COMMENT ON FUNCTION pgtq.worker_idle(text, text) IS
'Registers this session (its backend pid) as a claim loop of queue waiting for a NOTIFY; pushes to queue notify while it is registered. worker: 1..1024 characters. Returns true when the session was not registered before. Errors: 22004 NULL, 22023 bad value.';

-- This session's claim loop of queue no longer waits for notifications: pushes to queue
-- stop notifying once no other is registered.
CREATE FUNCTION pgtq.worker_busy(queue text) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  PERFORM pgtq.check_name('queue', worker_busy.queue);
  DELETE FROM pgtq.idle_workers w WHERE w.queue = worker_busy.queue AND w.pid = pg_backend_pid();
END $$;
COMMENT ON FUNCTION pgtq.worker_busy(text) IS
'Removes this session''s registration as an idle claim loop of queue. Errors: 22004 NULL, 22023 bad name.';

-- The transactions pushing to queue right now (pg_locks' virtualtransaction of each holder
-- of the queue's push lock), or, given among, those of among that still are. Empty when
-- none. Reads pg_locks, which briefly takes every lock partition: a claim loop calls it
-- when it goes idle, not per task.
CREATE FUNCTION pgtq.pushes_in_flight(queue text, among text[] DEFAULT NULL) RETURNS text[]
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  PERFORM pgtq.check_name('queue', pushes_in_flight.queue);
  RETURN coalesce((SELECT array_agg(DISTINCT l.virtualtransaction ORDER BY l.virtualtransaction)
                     FROM pg_locks l
                    WHERE l.locktype = 'advisory' AND l.granted
                      AND l.database = (SELECT d.oid FROM pg_database d
                                         WHERE d.datname = current_database())
                      AND l.classid = 1885828209::oid
                      AND l.objid = (hashtext(pushes_in_flight.queue) & 63)::oid
                      AND l.objsubid = 2
                      AND (among IS NULL OR l.virtualtransaction = ANY (among))), '{}');
END $$;
COMMENT ON FUNCTION pgtq.pushes_in_flight(text, text[]) IS
'The transactions that hold queue''s push lock now (pushes not yet committed), as pg_locks virtualtransaction ids; with among, only those of among. A claim loop waits until its list empties after registering. Errors: 22004 NULL, 22023 bad name.';

-- Registers this session as a scheduler asleep until wakes_in from now (at least 0, at most
-- 1 day); scheduler names it (1..1024 characters). Until then, delayed pushes of tasks due
-- earlier notify pgtq_scheduled. The caller must LISTEN on pgtq_scheduled, wait until
-- delayed_pushes_in_flight reports none and read next_due once more before it relies on
-- notifications. Returns true when the session was not registered before.
CREATE FUNCTION pgtq.scheduler_waiting(scheduler text, wakes_in interval) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  inserted boolean;
BEGIN
  IF scheduler IS NULL OR length(scheduler) NOT BETWEEN 1 AND 1024 THEN
    RAISE EXCEPTION 'pgtq.scheduler_waiting: scheduler must be 1 to 1024 characters long'
      USING ERRCODE = CASE WHEN scheduler IS NULL THEN 'null_value_not_allowed'
                           ELSE 'invalid_parameter_value' END;
  END IF;
  IF wakes_in IS NULL THEN
    RAISE EXCEPTION 'pgtq.scheduler_waiting: wakes_in must not be NULL'
      USING ERRCODE = 'null_value_not_allowed';
  END IF;
  IF NOT isfinite(wakes_in) OR wakes_in < interval '0' OR wakes_in > interval '1 day' THEN
    RAISE EXCEPTION 'pgtq.scheduler_waiting: wakes_in must be between 0 and 1 day, got %', wakes_in
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  INSERT INTO pgtq.waiting_schedulers AS s (pid, scheduler, wakes_at)
  VALUES (pg_backend_pid(), scheduler, clock_timestamp() + wakes_in)
  ON CONFLICT ON CONSTRAINT waiting_schedulers_pkey
  DO UPDATE SET scheduler = excluded.scheduler, wakes_at = excluded.wakes_at
  RETURNING s.xmax = 0 INTO inserted;
  RETURN inserted;
END $$;
COMMENT ON FUNCTION pgtq.scheduler_waiting(text, interval) IS
'Registers this session (its backend pid) as a scheduler asleep until wakes_in (0..1 day) from now; delayed pushes of tasks due earlier notify pgtq_scheduled. scheduler: 1..1024 characters. Returns true when the session was not registered before. Errors: 22004 NULL, 22023 bad value.';

-- The transactions pushing delayed tasks right now (as pushes_in_flight, for the delayed
-- tasks' lock), or, given among, those of among that still are. Empty when none.
CREATE FUNCTION pgtq.delayed_pushes_in_flight(among text[] DEFAULT NULL) RETURNS text[]
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
  SELECT coalesce((SELECT array_agg(DISTINCT l.virtualtransaction ORDER BY l.virtualtransaction)
                     FROM pg_locks l
                    WHERE l.locktype = 'advisory' AND l.granted
                      AND l.database = (SELECT d.oid FROM pg_database d
                                         WHERE d.datname = current_database())
                      AND l.classid = 1885828209::oid
                      AND l.objid = 64::oid
                      AND l.objsubid = 2
                      AND (among IS NULL OR l.virtualtransaction = ANY (among))), '{}');
$$;
COMMENT ON FUNCTION pgtq.delayed_pushes_in_flight(text[]) IS
'The transactions that hold the delayed pushes'' lock now (delayed pushes not yet committed), as pg_locks virtualtransaction ids; with among, only those of among. A scheduler waits until its list empties after registering.';

-- The earliest run_at among scheduled tasks or next fire time of an enabled schedule
-- (18_schedules.sql), kept within 100 years of now (a row written straight into the table
-- may say 'infinity'); NULL when none.
CREATE FUNCTION pgtq.next_due() RETURNS timestamptz
LANGUAGE sql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
  SELECT CASE WHEN d.due IS NOT NULL
              THEN least(greatest(d.due, clock_timestamp() - interval '100 years'),
                         clock_timestamp() + interval '100 years') END
    FROM (SELECT least((SELECT min(l.run_at) FROM pgtq.live_tasks l WHERE l.state = 'scheduled'),
                       (SELECT min(s.next_fire_at) FROM pgtq.schedules s WHERE s.enabled)) AS due) d;
$$;
COMMENT ON FUNCTION pgtq.next_due() IS
'The earliest run_at among scheduled tasks or next fire time of an enabled schedule, kept within 100 years of now; NULL when there are none.';
