-- The registry of workers: pgtq.workers (one row per pgtqd, written at every heartbeat by
-- pgtq.worker_seen, removed by pgtq.worker_stopped on a clean stop, and by pgtq.tick a day
-- after it was last heard from) and the pgtq.live_workers view.

CREATE TABLE pgtq.workers (
  worker      text NOT NULL,         -- pgtqd's worker name, as in live_tasks.locked_by
  queue       text NOT NULL,
  host        text NOT NULL,
  pid         integer NOT NULL,      -- pgtqd's process id on host (not a backend's)
  version     text NOT NULL,
  concurrency integer NOT NULL,
  isolation   text NOT NULL,         -- process or thread
  heartbeat   interval NOT NULL,     -- how often it writes last_seen
  started_at  timestamptz NOT NULL,
  last_seen   timestamptz NOT NULL,
  -- One name may serve several queues (a worker-name set in a shared config file).
  PRIMARY KEY (worker, queue)
);
COMMENT ON TABLE pgtq.workers IS
  'Workers (pgtqd) and when each was last heard from; pgtq.live_workers shows those alive.';

CREATE OR REPLACE FUNCTION pgtq.tick(max_count integer DEFAULT 10000,
                          OUT promoted integer, OUT rescued integer,
                          OUT failed integer, OUT next_due timestamptz)
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  wake        text[];
  rescue_wake text[];
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
      RETURNING 1
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
           (SELECT array_agg(DISTINCT queue) FROM back)
      INTO rescued, failed, rescue_wake;

    -- A channel payload must be shorter than 8000 bytes; a valid queue name always is.
    PERFORM pgtq.wake_queue(q)
       FROM (SELECT unnest(coalesce(wake, '{}') || coalesce(rescue_wake, '{}')) AS q) w
      WHERE octet_length(q) < 7900
      GROUP BY q;

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
     WHERE w.worker IN (SELECT g.worker FROM pgtq.workers g
                         WHERE g.last_seen < clock_timestamp() - interval '1 day'
                           FOR UPDATE SKIP LOCKED);
  END IF;
  -- A row written straight into the table may say 'infinity' or year 294276: the caller
  -- subtracts the time from now, so next_due keeps it within 100 years of now.
  next_due := pgtq.next_due();
END $$;
COMMENT ON FUNCTION pgtq.tick(integer) IS
'The scheduler''s work, at most max_count (1..100000) rows per sweep: due scheduled tasks become queued, expired leases are rescued or failed, registrations of ended sessions in idle_workers and waiting_schedulers, and workers not heard from for a day, are removed. One session at a time (advisory lock); others return zeros. next_due: the earliest scheduled run_at, kept within 100 years of now. Errors: 22004 NULL, 22023 out of range.';

CREATE FUNCTION pgtq.worker_seen(worker text, queue text, host text, pid integer,
                                 version text, concurrency integer, isolation text,
                                 heartbeat interval, started_at timestamptz)
RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
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
  -- Two daemons under one name and queue would take turns in one row, and their tasks'
  -- locked_by could not be told apart: say so in the caller's log.
  PERFORM 1 FROM pgtq.workers w
   WHERE w.worker = worker_seen.worker AND w.queue = worker_seen.queue
     AND (w.host <> worker_seen.host OR w.pid <> worker_seen.pid)
     AND w.last_seen > clock_timestamp() - 3 * w.heartbeat;
  IF FOUND THEN
    RAISE WARNING 'pgtq.worker_seen: worker name "%" of queue "%" is in use by another pgtqd '
      '(pid % on host %) as well: give each pgtqd a worker-name of its own', worker, queue,
      (SELECT w.pid FROM pgtq.workers w WHERE w.worker = worker_seen.worker
          AND w.queue = worker_seen.queue),
      (SELECT w.host FROM pgtq.workers w WHERE w.worker = worker_seen.worker
          AND w.queue = worker_seen.queue);
  END IF;
  INSERT INTO pgtq.workers AS w (worker, queue, host, pid, version, concurrency, isolation,
                                 heartbeat, started_at, last_seen)
  VALUES (worker_seen.worker, worker_seen.queue, worker_seen.host, worker_seen.pid,
          worker_seen.version, worker_seen.concurrency, worker_seen.isolation,
          worker_seen.heartbeat, worker_seen.started_at, clock_timestamp())
  ON CONFLICT ON CONSTRAINT workers_pkey DO UPDATE
    SET host = excluded.host, pid = excluded.pid,
        version = excluded.version, concurrency = excluded.concurrency,
        isolation = excluded.isolation, heartbeat = excluded.heartbeat,
        started_at = excluded.started_at, last_seen = excluded.last_seen;
END $$;
COMMENT ON FUNCTION pgtq.worker_seen(text, text, text, integer, text, integer, text, interval, timestamptz) IS
'Registers a worker (pgtqd) as alive now: worker name 1..128 bytes, queue, host 1..255 bytes, pid > 0, version 1..64 bytes, concurrency 1..100000, isolation process|thread, heartbeat (how often it calls again) > 0 and <= 1 hour, started_at. pgtqd calls it at every heartbeat. Errors: 22004 NULL, 22023 bad value.';

CREATE FUNCTION pgtq.worker_stopped(worker text, queue text) RETURNS boolean
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
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

CREATE VIEW pgtq.live_workers AS
  SELECT w.worker, w.queue, w.host, w.pid, w.version, w.concurrency, w.isolation,
         w.started_at, w.last_seen,
         (SELECT count(*) FROM pgtq.live_tasks l
           WHERE l.state = 'running' AND l.locked_by = w.worker AND l.queue = w.queue)
           AS running
    FROM pgtq.workers w
   WHERE w.last_seen > clock_timestamp() - 3 * w.heartbeat;
COMMENT ON VIEW pgtq.live_workers IS
  'Workers (pgtqd) heard from within three heartbeats, with the tasks each holds (running).';
