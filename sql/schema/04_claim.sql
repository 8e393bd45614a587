-- Claiming tasks and holding them: claim, heartbeat, and pop (claim for programs without
-- pgtqd).
--
-- pgtqd uses exactly these functions, and so can a program in any language that wants to
-- work tasks itself. Every call after the claim is fenced by (id, claim): the claim token
-- the task got when it was handed out (live_tasks.claim), a random 64-bit number that no
-- other role can guess. Once a lease expired and the task was rescued or claimed again, the
-- old (id, claim) matches nothing, so a late outcome from the lost worker changes nothing
-- and the call reports it as not accepted.

-- 64 random bits from the server's strong random source (gen_random_uuid), never 0. A SET
-- clause would stop PostgreSQL from inlining it into a caller; instead every name in it is
-- schema-qualified, so no search_path can change it.
CREATE FUNCTION pgtq.new_claim_token() RETURNS bigint
LANGUAGE sql VOLATILE PARALLEL SAFE AS $$
  SELECT coalesce(nullif(CAST('x' OPERATOR(pg_catalog.||) pg_catalog.substr(pg_catalog.md5(
           CAST(pg_catalog.gen_random_uuid() AS pg_catalog.text)), 1, 16) AS pg_catalog.bit(64))
           ::pg_catalog.int8, 0), 1)
$$;

-- A rate window (the claims of the last per before claimed_at, as starts and counts: when, by
-- the claim's clock, and how many tasks each took) with one more claim, of taken tasks at
-- claimed_at. A claim within 1/64 of per of the window's last entry joins it, and the entry
-- takes this claim's time: it counts until the last of its claims leaves the window, so a
-- limit is never overshot (it may be undershot by 1/64 of a period), and a window keeps at
-- most about 65 entries whatever the rate. For the rate limits of queues and of fairness keys.
CREATE FUNCTION pgtq.rate_window_add(starts timestamptz[], counts integer[],
                                     claimed_at timestamptz, per interval, taken integer,
                                     OUT new_starts timestamptz[], OUT new_counts integer[])
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  kept integer;
BEGIN
  SELECT coalesce(array_agg(s.at ORDER BY s.at), '{}'), coalesce(array_agg(s.n ORDER BY s.at), '{}')
    INTO new_starts, new_counts
    FROM unnest(starts, counts) AS s(at, n)
   WHERE s.at > claimed_at - per;
  kept := cardinality(new_starts);
  IF kept > 0 AND new_starts[kept] > claimed_at - per / 64 THEN
    new_starts[kept] := claimed_at;
    new_counts[kept] := new_counts[kept] + taken;
  ELSE
    new_starts := new_starts || claimed_at;
    new_counts := new_counts || taken;
  END IF;
END $$;

-- Claims up to max_count queued tasks of one queue whose names are in task_names (NULL
-- elements match nothing), in (priority, run_at, id) order, skipping rows other workers are
-- claiming right now; the rows come back in that order. Nothing while the queue is paused.
-- With a global concurrency limit (pgtq.queues.global_concurrency), no more than the limit
-- minus the queue's running tasks; with a rate limit (rate_limit per rate_period), no more
-- than the limit minus the tasks claimed in the last rate_period (a sliding window: the
-- queue's row keeps the time and size of each claim in it). Claims of such a queue take turns
-- (an advisory lock held until the claiming transaction ends, class 1885828210), so that two
-- claiming at the same instant cannot both take the last slot. A claim never waits for its
-- turn: one that finds it taken gets nothing (a transaction that popped a task and works it
-- before committing would otherwise stop every other claimer), and the claim that holds the
-- turn wakes the queue's waiting workers if it leaves room. Such claims must run in READ
-- COMMITTED, where what is read after the lock sees the claims committed before it; in
-- another isolation level they fail with 25000. The cheap checks run inline;
-- check_claim_args explains a failure.
--
-- Fairness (16_fairness.sql): while queued tasks of the queue carry a fairness key, its claims
-- take the same turns, and pgtq.fair_pick chooses what they take: the keys (and the tasks
-- without one, as one more key) in turn, each key's tasks in claim order, none of a key that
-- has key_concurrency tasks running or key_rate_limit claimed in the last key_rate_period. A
-- queue whose tasks have no key never pays for it beyond
-- one probe of an empty index.
--
-- Plans (docs/architecture.md, "Plans of the hot path"): each statement is planned once
-- per session (force_generic_plan) instead of at every call, which is most of a small
-- claim's cost. A generic plan does not know max_count or how many rows the table will
-- hold, so each statement reaches live_tasks only through an index condition (the claim
-- index; the primary key with id = ANY), seq scans are off, so that a plan made while the
-- table was empty cannot scan it whole later, and JIT is off, as a generic plan's cost
-- estimate could otherwise switch it on for a statement that touches a few rows.
CREATE FUNCTION pgtq.claim(queue text, task_names text[], max_count integer,
                           worker text, lease interval DEFAULT interval '15 seconds')
RETURNS TABLE (id bigint, claim bigint, task text, args jsonb, attempt integer,
               max_attempts integer, timeout interval, parents jsonb, checkpoint jsonb)
LANGUAGE plpgsql
SECURITY DEFINER SET search_path = pg_catalog, pg_temp
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
  limited_by text;             -- the role whose claim queues leave this queue out
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
                 -- Nothing for a login, or a role it SET ROLE to, limited to other queues
                 -- (pgtq.claim_queues): both, since SET ROLE to an unlimited role must not
                 -- lift the login's limit (current_user is this function's owner). The error
                 -- is raised below, off the path of a claim that takes tasks.
                 AND NOT EXISTS (SELECT 1 FROM pgtq.claim_queues r
                                  WHERE r.role IN (session_user, current_setting('role'))
                                    AND NOT claim.queue = ANY (r.queues))
               ORDER BY l.priority, l.run_at, l.id
               LIMIT take
                 FOR NO KEY UPDATE SKIP LOCKED) p;
    END IF;
    -- Nothing on the first pass: a role limited to other queues learns why. Before a fair
    -- queue's first pick too, which comes on a later pass.
    IF picked IS NULL AND NOT capped THEN
      SELECT r.role INTO limited_by FROM pgtq.claim_queues r
       WHERE r.role IN (session_user, current_setting('role'))
         AND NOT claim.queue = ANY (r.queues)
       ORDER BY r.role LIMIT 1;
      IF limited_by IS NOT NULL THEN
        RAISE EXCEPTION 'pgtq.claim: role % may not claim from queue "%"', limited_by,
          claim.queue USING ERRCODE = 'insufficient_privilege',
          HINT = 'pgtq.set_claim_queues names the queues a role may claim from.';
      END IF;
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
'Claims up to max_count (0..100000) queued tasks of queue named in task_names, in (priority, run_at, id) order (none while the queue is paused; with a global concurrency limit, at most the limit less the running tasks of the queue; with a rate limit, at most the limit less the tasks claimed in the last rate_period; while queued tasks carry fairness keys, the keys take turns, each key at most the queue''s key_concurrency running and key_rate_limit claimed per key_rate_period; claims of a limited or fair queue take turns; call it in READ COMMITTED), for worker (1..1024 characters) with a lease of 1 second..1 day. Returns id, claim token (random, 64 bits), task, args, attempt, max_attempts, timeout (the push''s, NULL if none), parents (pgtq.task_parents for a task pushed with depends_on, else NULL), checkpoint (what an earlier attempt saved, pgtq.report; NULL if none). pgtqd uses it; programs without pgtqd use pgtq.pop. Errors: 22004 NULL, 22023 bad value, 42501 the login or the role it SET ROLE to may not claim from queue (pgtq.set_claim_queues).';

-- Renews the leases of the tasks still held under these claims, each on its own: a row
-- locked by another session (an operator's open UPDATE) is skipped instead of making every
-- other lease wait for that lock. One row per distinct (id, claim) pair asked about (NULL
-- ids are ignored, a NULL claim is lost). Planned once per session, as pgtq.claim is: every
-- statement reaches live_tasks through id = ANY (task_ids).
--   renewed  the lease now runs until now + lease
--   busy     another session holds the task's row lock; not renewed this time (ask again
--            soon), and no other task waited for it
--   lost     no longer held under this claim (rescued, finished elsewhere): stop working on it
--   cancel   held, renewed, and its cancellation was requested: stop working on it
CREATE FUNCTION pgtq.heartbeat(task_ids bigint[], task_claims bigint[],
                               lease interval DEFAULT interval '15 seconds')
RETURNS TABLE (id bigint, status text)
LANGUAGE plpgsql
SECURITY DEFINER SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_generic_plan SET enable_seqscan = off SET jit = off AS $$
BEGIN
  PERFORM pgtq.check_id_claims('pgtq.heartbeat', task_ids, task_claims);
  PERFORM pgtq.check_lease('pgtq.heartbeat', lease);
  RETURN QUERY
  WITH asked AS (
    SELECT DISTINCT a.id, a.claim
      FROM unnest(task_ids, task_claims) AS a(id, claim)
     WHERE a.id IS NOT NULL
  ), lockable AS (
    SELECT l.id FROM pgtq.live_tasks l JOIN asked a ON l.id = a.id AND l.claim = a.claim
     WHERE l.id = ANY (task_ids) AND l.state = 'running'
       FOR NO KEY UPDATE OF l SKIP LOCKED
  ), renewed AS (
    UPDATE pgtq.live_tasks l SET locked_until = clock_timestamp() + lease
      FROM lockable k
     WHERE l.id = ANY (task_ids) AND l.id = k.id
    RETURNING l.id, l.claim, l.cancel_requested
  )
  SELECT a.id,
         CASE WHEN r.id IS NOT NULL THEN CASE WHEN r.cancel_requested THEN 'cancel'
                                              ELSE 'renewed' END
              WHEN EXISTS (SELECT 1 FROM pgtq.live_tasks l
                            WHERE l.id = a.id AND l.claim = a.claim AND l.state = 'running')
                THEN 'busy'
              ELSE 'lost' END
    FROM asked a LEFT JOIN renewed r ON r.id = a.id AND r.claim = a.claim;
END $$;
COMMENT ON FUNCTION pgtq.heartbeat(bigint[], bigint[], interval) IS
'Renews leases (1 second..1 day) of the tasks held under (task_ids[i], task_claims[i]); arrays of equal length, <= 100000. One row per distinct pair: renewed, busy (row locked by another session, ask again), lost (stop), cancel (renewed, but stop). Errors: 22004 NULL, 22023 bad value, 54000 too many.';

-- Claim for a program that works tasks itself, without pgtqd: first the scheduler's work
-- (pgtq.tick: due tasks become queued, expired leases are rescued; skipped at once when
-- another session is doing it), then pgtq.claim. Two index probes decide whether there is
-- any such work, so that a pop pays for the tick only when something is due. pgtqd claims
-- with pgtq.claim and runs tick on its own schedule.
CREATE FUNCTION pgtq.pop(queue text, task_names text[], max_count integer, worker text,
                         lease interval DEFAULT interval '15 seconds')
RETURNS TABLE (id bigint, claim bigint, task text, args jsonb, attempt integer,
               max_attempts integer, timeout interval, parents jsonb, checkpoint jsonb)
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
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
