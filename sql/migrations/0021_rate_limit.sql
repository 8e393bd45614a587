-- A rate limit per queue: at most rate_limit tasks claimed in any window of rate_period,
-- across every worker (pgtq.set_rate_limit). pgtq.claim counts the claims of the window, kept
-- in the queue's row, and pgtq.tick wakes a rate-limited queue's waiting workers once its
-- window has room again.
-- Limited queues' claims, from review: they no longer wait for their turn (one that finds it
-- taken gets nothing, and the claim holding it wakes the queue when it leaves room), they are
-- refused outside READ COMMITTED, where their counts could miss the claim before them, and a
-- task of a limited queue that stops running in tick (an expired lease with no attempts left)
-- or release (a cancelled task given back) wakes the queue as finish_many does
-- (pgtq.wake_limited); finish_many takes the queues from the rows it wrote instead of reading
-- its tasks again.

ALTER TABLE pgtq.queues
  ADD COLUMN rate_limit integer
    CONSTRAINT queues_rate_limit CHECK (rate_limit BETWEEN 1 AND 1000000),
  ADD COLUMN rate_period interval
    CONSTRAINT queues_rate_period CHECK (rate_period BETWEEN interval '1 second'
                                                         AND interval '1 day'),
  ADD COLUMN rate_starts timestamptz[] NOT NULL DEFAULT '{}',
  ADD COLUMN rate_counts integer[] NOT NULL DEFAULT '{}',
  ADD CONSTRAINT queues_rate CHECK ((rate_limit IS NULL) = (rate_period IS NULL)
                                    AND cardinality(rate_starts) = cardinality(rate_counts));
COMMENT ON TABLE pgtq.queues IS
  'Queue settings: paused (no claims while true, pushes still accepted), global_concurrency (at most this many tasks running at once across every worker; NULL: no limit), rate_limit per rate_period (at most this many tasks claimed in any window of that length; NULL: no limit). A queue without a row has the defaults.';

CREATE FUNCTION pgtq.wake_limited(queues text[]) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  PERFORM pgtq.wake_queue(q.queue) FROM pgtq.queues q
   WHERE q.global_concurrency IS NOT NULL AND NOT q.paused AND q.queue = ANY (queues);
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
    SELECT array_agg(p.id) INTO picked
      FROM (SELECT l.id FROM pgtq.live_tasks l
             WHERE l.queue = claim.queue AND l.state = 'queued' AND l.task = ANY (task_names)
               -- Evaluated once per call (it names no column of l): a paused queue hands out
               -- nothing, and neither does a limited one before its turn.
               AND (capped OR NOT EXISTS (SELECT 1 FROM pgtq.queues q
                                           WHERE q.queue = claim.queue
                                             AND (q.paused OR q.global_concurrency IS NOT NULL
                                                  OR q.rate_limit IS NOT NULL)))
             ORDER BY l.priority, l.run_at, l.id
             LIMIT take
               FOR UPDATE SKIP LOCKED) p;
    -- Something claimed, or nothing queued: done. Only a paused or limited queue goes on.
    EXIT WHEN picked IS NOT NULL OR capped OR max_count = 0;
    PERFORM FROM pgtq.queues q
     WHERE q.queue = claim.queue AND NOT q.paused
       AND (q.global_concurrency IS NOT NULL OR q.rate_limit IS NOT NULL);
    EXIT WHEN NOT FOUND;
    IF current_setting('transaction_isolation') <> 'read committed' THEN
      RAISE EXCEPTION 'pgtq.claim: queue "%" has a concurrency or rate limit, which claims keep '
        'only in READ COMMITTED; this transaction is %', claim.queue,
        upper(current_setting('transaction_isolation'))
        USING ERRCODE = 'invalid_transaction_state';
    END IF;
    EXIT WHEN NOT pg_try_advisory_xact_lock(1885828210, hashtext(claim.queue));
    -- Read once the turn began: the claims before it have committed what they took.
    SELECT q.paused, q.global_concurrency, q.rate_limit, q.rate_period
      INTO stopped, cap, rate, per FROM pgtq.queues q WHERE q.queue = claim.queue;
    EXIT WHEN stopped;
    room := max_count + 1;
    IF cap IS NOT NULL THEN
      SELECT least(room, cap - count(*)) INTO room FROM pgtq.live_tasks l
       WHERE l.state = 'running' AND l.queue = claim.queue;
    END IF;
    IF rate IS NOT NULL THEN
      SELECT least(room, rate - coalesce(sum(s.n), 0)) INTO room
        FROM pgtq.queues q, unnest(q.rate_starts, q.rate_counts) AS s(at, n)
       WHERE q.queue = claim.queue AND s.at > clock_timestamp() - per;
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
                       || clock_timestamp(),
                     CASE WHEN w.joins
                          THEN w.ns[1:cardinality(w.ns) - 1]
                               || (w.ns[cardinality(w.ns)] + cardinality(picked))
                          ELSE w.ns || cardinality(picked) END
                FROM (SELECT k.ats, k.ns,
                             k.ats[cardinality(k.ats)] > clock_timestamp() - per / 64 AS joins
                        FROM (SELECT coalesce(array_agg(s.at ORDER BY s.at), '{}') AS ats,
                                     coalesce(array_agg(s.n ORDER BY s.at), '{}') AS ns
                                FROM unnest(q.rate_starts, q.rate_counts) AS s(at, n)
                               WHERE s.at > clock_timestamp() - per) k) w)
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
           started_at = clock_timestamp(), locked_by = worker,
           locked_until = clock_timestamp() + lease
     WHERE l.id = ANY (picked)
    RETURNING l.id, l.claim, l.task, l.args, l.attempts, l.max_attempts, l.timeout, l.priority,
              l.run_at
  )
  SELECT c.id, c.claim, c.task, c.args, c.attempts, c.max_attempts, c.timeout
    FROM claimed c ORDER BY c.priority, c.run_at, c.id;
END $$;
COMMENT ON FUNCTION pgtq.claim(text, text[], integer, text, interval) IS
'Claims up to max_count (0..100000) queued tasks of queue named in task_names, in (priority, run_at, id) order (none while the queue is paused; with a global concurrency limit, at most the limit less the running tasks of the queue; with a rate limit, at most the limit less the tasks claimed in the last rate_period; claims of a limited queue take turns; call it in READ COMMITTED), for worker (1..1024 characters) with a lease of 1 second..1 day. Returns id, claim token (random, 64 bits), task, args, attempt, max_attempts, timeout (the push''s, NULL if none). pgtqd uses it; programs without pgtqd use pgtq.pop. Errors: 22004 NULL, 22023 bad value.';

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
                                     unique_key)
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
           e.timeout, e.unique_key
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

  -- A task of a queue with a global concurrency limit that stops running leaves room, which
  -- the queue's waiting workers (whose claims came back short) learn from a wake-up.
  IF EXISTS (SELECT 1 FROM pgtq.queues q WHERE q.global_concurrency IS NOT NULL) THEN
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
       AND EXISTS (SELECT 1 FROM pgtq.live_tasks l
                    WHERE l.queue = q.queue AND l.state = 'queued');

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
COMMENT ON FUNCTION pgtq.tick(integer) IS
'The scheduler''s work, at most max_count (1..100000) rows per sweep: due scheduled tasks become queued, expired leases are rescued or failed, rate-limited queues with room are woken, registrations of ended sessions in idle_workers and waiting_schedulers, and workers not heard from for a day, are removed. One session at a time (advisory lock); others return zeros. next_due: the earliest scheduled run_at, kept within 100 years of now. Errors: 22004 NULL, 22023 out of range.';

CREATE OR REPLACE FUNCTION pgtq.release(task_ids bigint[], task_claims bigint[])
RETURNS integer
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  requeued  integer;
  cancelled integer;
  wake      text[];
  ended     text[];
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
    RETURNING queue
  ), back AS (
    UPDATE pgtq.live_tasks l
       SET state = 'queued', attempts = greatest(l.attempts - 1, 0), locked_by = NULL,
           locked_until = NULL, claim = NULL
      FROM held
     WHERE l.id = held.id AND NOT l.cancel_requested
    RETURNING l.queue
  )
  SELECT (SELECT count(*) FROM back), (SELECT count(*) FROM stored),
         (SELECT array_agg(DISTINCT queue) FROM back), (SELECT array_agg(queue) FROM stored)
    INTO requeued, cancelled, wake, ended;
  PERFORM pgtq.wake_queue(q) FROM unnest(wake) AS q WHERE octet_length(q) < 7900;
  IF ended IS NOT NULL THEN
    PERFORM pgtq.wake_limited(ended); -- a cancelled task of a limited queue leaves room
  END IF;
  RETURN requeued + cancelled;
END $$;
COMMENT ON FUNCTION pgtq.release(bigint[], bigint[]) IS
'Gives claimed tasks back unfinished: queued again, attempt given back (a task whose cancellation was requested ends cancelled). Arrays of equal length; NULL elements match nothing; a task named twice counts once. Returns how many were still held. Errors: 22004 NULL array, 22023 lengths differ.';

CREATE FUNCTION pgtq.set_rate_limit(queue text, max_starts integer, per interval) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  PERFORM pgtq.check_name('queue', set_rate_limit.queue);
  IF max_starts NOT BETWEEN 1 AND 1000000 THEN
    RAISE EXCEPTION 'pgtq.set_rate_limit: max_starts must be 1..1000000 (NULL: no limit), got %',
      max_starts USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF max_starts IS NOT NULL AND per IS NULL THEN
    RAISE EXCEPTION 'pgtq.set_rate_limit: per must not be NULL with a limit'
      USING ERRCODE = 'null_value_not_allowed';
  END IF;
  IF max_starts IS NOT NULL AND NOT per BETWEEN interval '1 second' AND interval '1 day' THEN
    RAISE EXCEPTION 'pgtq.set_rate_limit: per must be 1 second to 1 day, got %', per
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  INSERT INTO pgtq.queues AS q (queue, rate_limit, rate_period)
  VALUES (set_rate_limit.queue, max_starts, CASE WHEN max_starts IS NOT NULL THEN per END)
  ON CONFLICT ON CONSTRAINT queues_pkey
  DO UPDATE SET rate_limit = excluded.rate_limit, rate_period = excluded.rate_period,
                changed_at = now(),
                -- The window holds only what the old period kept: a new limit or period starts
                -- with an empty one; the same setting again keeps it.
                rate_starts = CASE WHEN (q.rate_limit, q.rate_period)
                                        IS NOT DISTINCT FROM (excluded.rate_limit,
                                                              excluded.rate_period)
                                   THEN q.rate_starts ELSE '{}' END,
                rate_counts = CASE WHEN (q.rate_limit, q.rate_period)
                                        IS NOT DISTINCT FROM (excluded.rate_limit,
                                                              excluded.rate_period)
                                   THEN q.rate_counts ELSE '{}' END;
  PERFORM pgtq.wake_queue(set_rate_limit.queue);
END $$;
COMMENT ON FUNCTION pgtq.set_rate_limit(text, integer, interval) IS
'Limits queue to max_starts (1..1000000) tasks claimed in any window of length per (1 second..1 day) across every worker (claimed ahead counts); NULL max_starts removes the limit. Errors: 22004 NULL queue or per, 22023 bad name, max_starts or per.';
