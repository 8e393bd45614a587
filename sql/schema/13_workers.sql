-- The registry of workers: which pgtqd serve which queue, from where, and whether they are
-- alive.
--
-- Each pgtqd writes its row when its lease keeper first connects and refreshes last_seen at
-- every heartbeat (pgtq.worker_seen), whether or not it runs tasks, and removes the row when
-- it stops cleanly (pgtq.worker_stopped). A pgtqd killed with -9 leaves its row: it is alive
-- in pgtq.live_workers for three heartbeats after its last one, and pgtq.tick removes it a
-- day later. Tasks name their worker in locked_by, so what a worker runs is a join away.
--
-- Rescue without waiting out the lease. The row names the session the worker's lease
-- renewals run on. A pgtqd killed with -9 takes its sessions with it at once (the kernel
-- closes its sockets, and each backend ends); one whose sessions were merely ended
-- (pg_terminate_backend, a restarted pooler) connects again and writes its row anew within
-- moments. So once a sweep (pgtq.sweep_gone_workers, run by pgtqd's schedulers) has found a
-- worker's session gone for its grace, and the worker has not written its row from a new
-- session meanwhile, the leases of the tasks it claimed before then are ended, and the tick
-- rescues them: within about two seconds of a kill instead of a whole lease. Only proof
-- counts: the pid must be absent or belong to a backend started at another time, on the same
-- server run (a restart or a failover ends every session, so it proves nothing: leases run
-- out as before), as seen by a sweep whose own session is older than the worker's heartbeat
-- (after an outage that cut everyone, each pgtqd has had that long to connect again). pgtqd
-- keeps its side: when its lease session ends it connects again at once and writes its row
-- from the new session before anything else; if the row does not name a new session within
-- three quarters of the grace (it cannot connect, or cannot write), it stops its tasks (a
-- worker process is killed at once, a thread handler asked to), so that no task runs here and
-- on another daemon at once.
-- It cannot tell a server that restarts from one only it cannot reach: a restart longer than
-- that stops its tasks too, and they run again.

-- Registers worker (pgtqd's worker name, 1..128 bytes) as alive now, serving queue, with where
-- and how it runs (pid: its process id on host). heartbeat: how often it calls again (more than
-- 0, at most 1 hour). task_names: the task names its plugins handle (at most 10000, each 1..128
-- characters; NULL: unknown). session_grace: how long the calling session may be gone before
-- the worker's tasks are rescued without waiting out their leases (more than 0, at most 1
-- hour; NULL: never, as from a caller that does not keep its side of that bargain). The
-- calling session is recorded as the worker's (unless the current role may not see its start):
-- call it on the session that renews the worker's leases. A row per (worker, queue); another
-- pgtqd heard from under the same pair within three heartbeats gets a WARNING, and the row is
-- not swept for three heartbeats. Returns nothing.
CREATE FUNCTION pgtq.worker_seen(worker text, queue text, host text, pid integer,
                                 version text, concurrency integer, isolation text,
                                 heartbeat interval, started_at timestamptz,
                                 task_names text[] DEFAULT NULL,
                                 session_grace interval DEFAULT NULL)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  -- This session's start; NULL when the current role may not see it (SET ROLE to a role
  -- other than the login's): the session is then not recorded, and never swept.
  session_start timestamptz := (SELECT a.backend_start FROM pg_stat_get_activity(pg_backend_pid()) a);
  shared        boolean;
BEGIN
  IF worker IS NULL OR host IS NULL OR pid IS NULL OR version IS NULL OR concurrency IS NULL
     OR isolation IS NULL OR heartbeat IS NULL OR started_at IS NULL THEN
    RAISE EXCEPTION 'pgtq.worker_seen: % must not be NULL',
      CASE WHEN worker IS NULL THEN 'worker' WHEN host IS NULL THEN 'host'
           WHEN pid IS NULL THEN 'pid' WHEN version IS NULL THEN 'version'
           WHEN concurrency IS NULL THEN 'concurrency' WHEN isolation IS NULL THEN 'isolation'
           WHEN heartbeat IS NULL THEN 'heartbeat' ELSE 'started_at' END
      USING ERRCODE = 'null_value_not_allowed';
  END IF;
  PERFORM pgtq.check_name('queue', worker_seen.queue);
  IF octet_length(worker) NOT BETWEEN 1 AND 128 OR octet_length(host) NOT BETWEEN 1 AND 255
     OR octet_length(version) NOT BETWEEN 1 AND 64 THEN
    RAISE EXCEPTION 'pgtq.worker_seen: worker (1..128 bytes), host (1..255) and version (1..64) '
      'must not be empty or longer, got %, % and % bytes', octet_length(worker),
      octet_length(host), octet_length(version) USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF pid < 1 OR concurrency NOT BETWEEN 1 AND 100000 OR isolation NOT IN ('process', 'thread')
     OR NOT (heartbeat > interval '0' AND heartbeat <= interval '1 hour')
     OR NOT isfinite(started_at) OR started_at > clock_timestamp() + interval '1 day' THEN
    RAISE EXCEPTION 'pgtq.worker_seen: pid must be positive (got %), concurrency 1..100000 (got %), '
      'isolation process or thread (got %), heartbeat more than 0 and at most 1 hour (got %), '
      'started_at a finite time (got %)', pid, concurrency, isolation, heartbeat, started_at
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF cardinality(task_names) > 10000 OR array_ndims(task_names) > 1
     OR EXISTS (SELECT 1 FROM unnest(task_names) AS n WHERE n IS NULL OR length(n) NOT BETWEEN 1 AND 128) THEN
    RAISE EXCEPTION 'pgtq.worker_seen: task_names must be a one-dimensional array of at most '
      '10000 names of 1..128 characters, got % elements', cardinality(task_names)
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF NOT (session_grace > interval '0' AND session_grace <= interval '1 hour') THEN
    RAISE EXCEPTION 'pgtq.worker_seen: session_grace must be more than 0 and at most 1 hour, got %',
      session_grace USING ERRCODE = 'invalid_parameter_value';
  END IF;
  -- Two daemons under one name and queue would take turns in one row, and their tasks'
  -- locked_by could not be told apart: say so in the caller's log.
  PERFORM 1 FROM pgtq.workers w
   WHERE w.worker = worker_seen.worker AND w.queue = worker_seen.queue
     AND (w.host <> worker_seen.host OR w.pid <> worker_seen.pid)
     AND w.last_seen > clock_timestamp() - 3 * w.heartbeat;
  shared := FOUND;
  IF shared THEN
    RAISE WARNING 'pgtq.worker_seen: worker name "%" of queue "%" is in use by another pgtqd '
      '(pid % on host %) as well: give each pgtqd a worker-name of its own', worker, queue,
      (SELECT w.pid FROM pgtq.workers w WHERE w.worker = worker_seen.worker
          AND w.queue = worker_seen.queue),
      (SELECT w.host FROM pgtq.workers w WHERE w.worker = worker_seen.worker
          AND w.queue = worker_seen.queue);
  END IF;
  INSERT INTO pgtq.workers AS w (worker, queue, host, pid, version, concurrency, isolation,
                                 heartbeat, started_at, last_seen, task_names, session_pid,
                                 session_started, server_started, session_grace,
                                 session_gone_at, session_shared_until)
  VALUES (worker_seen.worker, worker_seen.queue, worker_seen.host, worker_seen.pid,
          worker_seen.version, worker_seen.concurrency, worker_seen.isolation,
          worker_seen.heartbeat, worker_seen.started_at, clock_timestamp(),
          worker_seen.task_names, CASE WHEN session_start IS NOT NULL THEN pg_backend_pid() END,
          session_start, pg_postmaster_start_time(), worker_seen.session_grace, NULL, NULL)
  ON CONFLICT ON CONSTRAINT workers_pkey DO UPDATE
    SET host = excluded.host, pid = excluded.pid,
        version = excluded.version, concurrency = excluded.concurrency,
        isolation = excluded.isolation, heartbeat = excluded.heartbeat,
        started_at = excluded.started_at, last_seen = excluded.last_seen,
        task_names = excluded.task_names, session_pid = excluded.session_pid,
        session_started = excluded.session_started, server_started = excluded.server_started,
        session_grace = excluded.session_grace, session_gone_at = NULL,
        -- Two pgtqd under one name: the row names one's session, the tasks are both's, so
        -- none is swept while they take turns (and three heartbeats after).
        session_shared_until = CASE WHEN shared
                                    THEN clock_timestamp() + 3 * excluded.heartbeat
                                    ELSE w.session_shared_until END;
END $$;
COMMENT ON FUNCTION pgtq.worker_seen(text, text, text, integer, text, integer, text, interval, timestamptz, text[], interval) IS
'Registers a worker (pgtqd) as alive now: worker name 1..128 bytes, queue, host 1..255 bytes, pid > 0, version 1..64 bytes, concurrency 1..100000, isolation process|thread, heartbeat (how often it calls again) > 0 and <= 1 hour, started_at, task_names it handles (at most 10000 names of 1..128 characters; NULL: unknown), session_grace (more than 0, at most 1 hour; NULL: never rescued early): how long the calling session, recorded as the one renewing the worker''s leases (unless the current role may not see its start), may be gone before pgtq.sweep_gone_workers ends those leases. pgtqd calls it at every heartbeat. Errors: 22004 NULL, 22023 bad value.';

-- Ends the leases of the tasks of workers whose lease session has ended (see the top of this
-- file), so that the tick rescues them at once. A first call that finds a worker's recorded
-- session gone (its pid absent, or a backend started at another time) notes when; a call at
-- least session_grace later that still finds it gone, with no newer registration, ends the
-- leases of the running tasks the worker claimed before that note, and forgets the session
-- (there is nothing more of it to rescue). Left alone: sessions of another server run (they
-- prove nothing); workers whose heartbeat is longer than the calling session is old (after
-- something that cut every session, a crash restart of the server or a pooler's restart,
-- each pgtqd gets that long, its reconnection backoff's cap, to be back); and workers whose
-- row two pgtqd wrote in turn lately (one worker-name for both: the row names one's session,
-- the tasks are both's). Returns how many leases it ended. One caller at a time (an advisory
-- lock; the others return 0). A worker row locked elsewhere waits for the next call; a task
-- row locked elsewhere at that moment keeps its lease, which runs out as before. pgtqd's
-- schedulers call it before each tick, in a transaction of its own.
CREATE FUNCTION pgtq.sweep_gone_workers() RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  ended   integer := 0;
  since   timestamptz := (SELECT a.backend_start FROM pg_stat_get_activity(pg_backend_pid()) a);
  workers text[];
  queues  text[];
BEGIN
  IF NOT pg_try_advisory_xact_lock(hashtext('pgtq.sweep_gone_workers')) THEN
    RETURN 0;
  END IF;
  -- The rows first, then the sessions: a backend-status snapshot older than a row's newest
  -- write could take the session it names for gone. Locked, a row cannot change meanwhile.
  SELECT array_agg(c.worker), array_agg(c.queue) INTO workers, queues
    FROM (SELECT g.worker, g.queue FROM pgtq.workers g
           WHERE g.session_pid IS NOT NULL AND g.session_started IS NOT NULL
             AND g.session_grace IS NOT NULL
             AND g.server_started = pg_postmaster_start_time()
             AND since <= clock_timestamp() - g.heartbeat
             AND (g.session_shared_until IS NULL OR g.session_shared_until < clock_timestamp())
             FOR UPDATE SKIP LOCKED) c;
  IF workers IS NULL THEN
    RETURN 0;
  END IF;
  PERFORM pg_stat_clear_snapshot();
  -- Gone: no backend of that pid started then. One whose start this role may not see counts
  -- as alive.
  UPDATE pgtq.workers w
     SET session_gone_at = clock_timestamp()
   WHERE (w.worker, w.queue) IN (SELECT * FROM unnest(workers, queues))
     AND w.session_gone_at IS NULL
     AND NOT EXISTS (SELECT 1 FROM pg_stat_get_activity(w.session_pid) a
                      WHERE a.backend_start IS NULL OR a.backend_start = w.session_started);
  WITH gone AS (
    UPDATE pgtq.workers w
       SET session_pid = NULL, session_started = NULL
     WHERE (w.worker, w.queue) IN (SELECT * FROM unnest(workers, queues))
       AND w.session_gone_at <= clock_timestamp() - w.session_grace
       AND NOT EXISTS (SELECT 1 FROM pg_stat_get_activity(w.session_pid) a
                        WHERE a.backend_start IS NULL OR a.backend_start = w.session_started)
    RETURNING w.worker, w.queue, w.session_gone_at
  ), held AS (
    -- Claimed before the note only: a task claimed later is another pgtqd's under the same
    -- worker-name (a restart), whose row will say so.
    SELECT l.id FROM pgtq.live_tasks l JOIN gone ON l.queue = gone.queue AND l.locked_by = gone.worker
     WHERE l.state = 'running' AND l.started_at < gone.session_gone_at
       AND l.locked_until > clock_timestamp()
       FOR NO KEY UPDATE OF l SKIP LOCKED
  )
  UPDATE pgtq.live_tasks l SET locked_until = clock_timestamp()
    FROM held WHERE l.id = held.id;
  GET DIAGNOSTICS ended = ROW_COUNT;
  RETURN ended;
END $$;
COMMENT ON FUNCTION pgtq.sweep_gone_workers() IS
'Ends the leases of the running tasks of workers (pgtq.workers) whose recorded lease session has been gone for their session_grace without a newer registration, so that the next pgtq.tick rescues them instead of waiting out the leases. Notes sessions found gone; ignores sessions of an earlier server run. Returns the number of leases ended. One caller at a time; the others return 0.';

-- Removes the row of worker for queue (a clean stop). Returns whether there was one.
CREATE FUNCTION pgtq.worker_stopped(worker text, queue text) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF worker IS NULL OR queue IS NULL THEN
    RAISE EXCEPTION 'pgtq.worker_stopped: % must not be NULL',
      CASE WHEN worker IS NULL THEN 'worker' ELSE 'queue' END
      USING ERRCODE = 'null_value_not_allowed';
  END IF;
  DELETE FROM pgtq.workers w
   WHERE w.worker = worker_stopped.worker AND w.queue = worker_stopped.queue;
  RETURN FOUND;
END $$;
COMMENT ON FUNCTION pgtq.worker_stopped(text, text) IS
'Removes a worker''s registration for a queue (pgtqd calls it when it stops cleanly). Returns whether there was one. Errors: 22004 NULL.';

-- The workers heard from within three heartbeats, with how many tasks each holds (running,
-- or claimed ahead of its workers).
CREATE VIEW pgtq.live_workers AS
  SELECT w.worker, w.queue, w.host, w.pid, w.version, w.concurrency, w.isolation,
         w.started_at, w.last_seen,
         (SELECT count(*) FROM pgtq.live_tasks l
           WHERE l.state = 'running' AND l.locked_by = w.worker AND l.queue = w.queue)
           AS running,
         w.task_names
    FROM pgtq.workers w
   WHERE w.last_seen > clock_timestamp() - 3 * w.heartbeat;
COMMENT ON VIEW pgtq.live_workers IS
  'Workers (pgtqd) heard from within three heartbeats, with the tasks each holds (running) and the task names it handles (NULL: unknown).';

-- Queued tasks that no live pgtqd will take: per queue and task name, those whose name no live
-- worker of the queue handles (a typo in a push, a plugin not deployed yet, or no live pgtqd
-- for the queue at all). A worker that did not say its task names (NULL, a pgtqd older than
-- 0031) counts as handling every name. Programs that work tasks with pgtq.pop are not in the
-- registry: their queues show up here too.
--
-- Cost: one pass over the queued tasks of live_tasks, grouped by queue and task name first, and
-- then one look at the registry per group.
CREATE VIEW pgtq.unhandled_tasks AS
  SELECT g.queue, g.task, g.queued, g.oldest_run_at,
         EXISTS (SELECT 1 FROM pgtq.live_workers w WHERE w.queue = g.queue) AS queue_has_workers
    FROM (SELECT l.queue, l.task, count(*) AS queued, min(l.run_at) AS oldest_run_at
            FROM pgtq.live_tasks l WHERE l.state = 'queued'
           GROUP BY l.queue, l.task) g
   WHERE NOT EXISTS (SELECT 1 FROM pgtq.live_workers w
                      WHERE w.queue = g.queue
                        AND (w.task_names IS NULL OR g.task = ANY (w.task_names)));
COMMENT ON VIEW pgtq.unhandled_tasks IS
  'Per queue and task name, queued tasks that no live worker of the queue handles: how many, the oldest run_at, and whether the queue has live workers at all (false: nothing serves it).';
