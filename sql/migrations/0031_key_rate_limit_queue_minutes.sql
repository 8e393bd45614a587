-- A rate limit per fairness key (sql/schema/16_fairness.sql): pgtq.set_key_rate_limit(queue,
-- max_starts, per) stores it in pgtq.queues (key_rate_limit, key_rate_period); pgtq.claim
-- hands it to pgtq.fair_pick, which passes over a key whose window (pgtq.key_rate_windows)
-- holds the limit, adds each claim to the windows of the keys it took from, and notes in
-- queues.key_rate_wake_at when the first key it held back gets room, from when pgtq.tick wakes
-- the queue; pgtq.apply_retention removes windows an hour after they emptied. The queue's own
-- rate window now goes through the same pgtq.rate_window_add, and both rate limits take their
-- period as its length in seconds (pgtq.rate_period: '1 day' is 24 hours, a month part cannot
-- put the window's start in the future). queue_stats shows the limit and, of the last hour,
-- the median and 95th percentile of wait and run times; queue_minutes has throughput and
-- latency per queue and minute of the last hour. The registry of workers says which task
-- names each pgtqd handles, and pgtq.unhandled_tasks lists the queued tasks no live worker
-- will take. It also names each worker's lease session (worker_seen's session_grace), and
-- pgtq.sweep_gone_workers ends the leases of a worker whose session has ended and not come
-- back within that grace, so that a pgtqd killed with -9 has its tasks rescued within
-- seconds. pgtq.tick's next_due includes when a rate limit next has room for a claim it holds
-- back (pgtq.next_rate_room), so that schedulers wake rate-limited queues on time.

ALTER TABLE pgtq.queues
  ADD COLUMN key_rate_limit integer
    CONSTRAINT queues_key_rate_limit CHECK (key_rate_limit BETWEEN 1 AND 1000000),
  ADD COLUMN key_rate_period interval
    CONSTRAINT queues_key_rate_period CHECK (key_rate_period BETWEEN interval '1 second'
                                                                 AND interval '1 day'),
  ADD COLUMN key_rate_wake_at timestamptz,
  ADD CONSTRAINT queues_key_rate CHECK ((key_rate_limit IS NULL) = (key_rate_period IS NULL));
COMMENT ON TABLE pgtq.queues IS
  'Queue settings: paused (no claims while true, pushes still accepted), global_concurrency (at most this many tasks running at once across every worker; NULL: no limit), rate_limit per rate_period (at most this many tasks claimed in any window of that length; NULL: no limit), key_concurrency (at most this many tasks of one fairness key running at once; NULL: no limit), default_priority, default_max_attempts and default_timeout (what a push that gives none stores; NULL: 0, 5 and none), key_rate_limit per key_rate_period (at most this many tasks of one fairness key claimed in any window of that length; NULL: no limit) and key_rate_wake_at (when a key held back by it gets room: pgtq.tick wakes the queue from then on). A queue without a row has the defaults.';

CREATE TABLE pgtq.key_rate_windows (
  queue        text NOT NULL,
  fairness_key text NOT NULL,
  starts       timestamptz[] NOT NULL,
  counts       integer[] NOT NULL,
  PRIMARY KEY (queue, fairness_key),
  CONSTRAINT key_rate_windows_arrays CHECK (cardinality(starts) = cardinality(counts))
);
COMMENT ON TABLE pgtq.key_rate_windows IS
  'The claims of the last key_rate_period of each fairness key of a queue with a rate limit per key: when (starts) and how many tasks of the key each took (counts). Written by pgtq.claim; pgtq.apply_retention removes rows an hour after their window emptied.';

DROP FUNCTION pgtq.fair_pick(text, text[], integer, integer);
DROP FUNCTION pgtq.fair_key_room(text, text, text[], integer, integer);

CREATE FUNCTION pgtq.rate_period(what text, per interval) RETURNS interval
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  seconds numeric := extract(epoch FROM per);
BEGIN
  IF seconds NOT BETWEEN 1 AND 86400 THEN
    RAISE EXCEPTION '%: per must be 1 second to 1 day, got %', what, per
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  RETURN make_interval(secs => seconds);
END $$;

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

CREATE FUNCTION pgtq.fair_pick(queue text, task_names text[], take integer, key_cap integer,
                               key_rate integer, key_per interval, turn_at timestamptz)
RETURNS bigint[]
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_generic_plan SET enable_seqscan = off SET jit = off AS $$
DECLARE
  names_hash  bigint := hashtextextended(array_to_string(
                          ARRAY(SELECT DISTINCT n FROM unnest(task_names) AS n ORDER BY n),
                          chr(31)), 0);
  looks       integer := 4 * take + 64; -- keys looked at per claim, at most
  last_served text;    -- where the last claim stopped: a key, '' (no key) or NULL (start)
  last_taken  integer; -- how many tasks that key took in its turn so far; NULL: turn over
  first_cursor text;
  first_taken integer;
  carry       integer := 0; -- what is left of that key's turn (its weight less what it took)
  next_taken  integer;
  look_further boolean; -- nothing to take among as many keys as a claim looks at: look on
  wake_at     timestamptz; -- when a key held back by key_rate gets room, the first of them
  chosen      bigint[];
  chosen_keys text[];  -- each chosen task's key, '' for none
  picked      bigint[];
  next_last   text;
BEGIN
  SELECT c.last_key, c.last_taken INTO last_served, last_taken FROM pgtq.fairness_cursors c
   WHERE c.queue = fair_pick.queue AND c.task_set = names_hash;
  first_cursor := last_served;
  first_taken := last_taken;
  IF last_served <> '' AND last_taken IS NOT NULL THEN
    carry := greatest(coalesce((SELECT w.weight FROM pgtq.fairness_weights w
                                 WHERE w.queue = fair_pick.queue
                                   AND w.fairness_key = last_served), 1) - last_taken, 0);
  END IF;
  -- Up to 64 stretches of looks keys each, within this claim: keys that cannot be served are
  -- passed over at once, not one claim (a poll interval, when idle) per stretch.
  FOR walk IN 1 .. 64 LOOP
  WITH RECURSIVE after_cursor(key, n, served, room, free_at) AS (
    -- The keys after the cursor, one index descent each (a loose index scan), until take of
    -- them can be served.
    SELECT k.key, 1, (s.room > 0)::integer, s.room, s.free_at
      FROM (SELECT min(l.fairness_key) AS key FROM pgtq.live_tasks l
             WHERE l.queue = fair_pick.queue AND l.state = 'queued'
               AND l.fairness_key IS NOT NULL
               AND l.fairness_key > coalesce(last_served, '')) k
      CROSS JOIN LATERAL pgtq.fair_key_room(fair_pick.queue, k.key, task_names, key_cap, take,
                                            key_rate, key_per, turn_at) s
    UNION ALL
    SELECT k.key, a.n + 1, a.served + (s.room > 0)::integer, s.room, s.free_at
      FROM after_cursor a
      CROSS JOIN LATERAL (SELECT min(l.fairness_key) AS key FROM pgtq.live_tasks l
                           WHERE l.queue = fair_pick.queue AND l.state = 'queued'
                             AND l.fairness_key IS NOT NULL AND l.fairness_key > a.key) k
      CROSS JOIN LATERAL pgtq.fair_key_room(fair_pick.queue, k.key, task_names, key_cap, take,
                                            key_rate, key_per, turn_at) s
     WHERE a.key IS NOT NULL AND a.served < take AND a.n < looks
  ), from_start(key, n, served, room, free_at) AS (
    -- Then, once the walk ran out of keys (its last row has none) with room to spare, round
    -- again: the keys up to the cursor.
    SELECT k.key, e.n + 1, e.served + (s.room > 0)::integer, s.room, s.free_at
      FROM (SELECT max(a.n) AS n, max(a.served) AS served FROM after_cursor a
             HAVING bool_or(a.key IS NULL)) e
      CROSS JOIN (SELECT min(l.fairness_key) AS key FROM pgtq.live_tasks l
                   WHERE l.queue = fair_pick.queue AND l.state = 'queued'
                     AND l.fairness_key IS NOT NULL) k
      CROSS JOIN LATERAL pgtq.fair_key_room(fair_pick.queue, k.key, task_names, key_cap, take,
                                            key_rate, key_per, turn_at) s
     WHERE last_served <> '' AND e.served < take AND e.n < looks
    UNION ALL
    SELECT k.key, f.n + 1, f.served + (s.room > 0)::integer, s.room, s.free_at
      FROM from_start f
      CROSS JOIN LATERAL (SELECT min(l.fairness_key) AS key FROM pgtq.live_tasks l
                           WHERE l.queue = fair_pick.queue AND l.state = 'queued'
                             AND l.fairness_key IS NOT NULL AND l.fairness_key > f.key) k
      CROSS JOIN LATERAL pgtq.fair_key_room(fair_pick.queue, k.key, task_names, key_cap, take,
                                            key_rate, key_per, turn_at) s
     WHERE f.key IS NOT NULL AND f.key < last_served AND f.served < take AND f.n < looks
  ), turns(key, pos, room) AS (
    -- The key the last claim stopped at, first, when its weight leaves it more of its turn.
    SELECT last_served, -1,
           (pgtq.fair_key_room(fair_pick.queue, last_served, task_names, key_cap, take,
                               key_rate, key_per, turn_at)).room
     WHERE carry > 0
    UNION ALL
    -- The tasks without a key take their turn where a round starts: first when no claim
    -- stopped anywhere yet, else after the keys past the cursor.
    SELECT NULL::text, CASE WHEN last_served IS NULL THEN 0 ELSE looks + 1 END,
           CASE WHEN EXISTS (SELECT 1 FROM pgtq.live_tasks l
                              WHERE l.queue = fair_pick.queue AND l.state = 'queued'
                                AND l.fairness_key IS NULL AND l.task = ANY (task_names))
                THEN take ELSE 0 END
    UNION ALL
    SELECT a.key, a.n, a.room FROM after_cursor a WHERE a.key IS NOT NULL
    UNION ALL
    SELECT f.key, looks + 1 + f.n, f.room FROM from_start f
     WHERE f.key IS NOT NULL AND f.key <= last_served
  ), served AS (
    -- A key whose turn goes on is served at its place in front (pos -1) only; its place at the
    -- end of the round stays in turns, where a claim that serves nobody stops.
    SELECT t.key, t.pos, t.room FROM turns t
     WHERE t.room > 0 AND (carry = 0 OR t.pos < 0 OR t.key IS DISTINCT FROM last_served)
     ORDER BY t.pos LIMIT take
  ), weighed AS (
    SELECT v.key, v.pos, v.room,
           coalesce((SELECT w.weight FROM pgtq.fairness_weights w
                      WHERE v.key IS NOT NULL AND w.queue = fair_pick.queue
                        AND w.fairness_key = v.key), 1) AS weight
      FROM served v
  ), visited AS (
    -- Of S keys served, one gets no more than its room, and beyond its first turn (its weight,
    -- or what is left of the turn carried over) only once the S - 1 others took one each: at
    -- most the larger of the two and take - S + 1.
    SELECT v.key, v.pos, v.weight,
           least(v.room, take, greatest(CASE WHEN v.pos = -1 THEN carry ELSE v.weight END,
                                        take - count(*) OVER () + 1)) AS quota
      FROM weighed v
  ), candidates AS (
    -- A key's rn-th task goes in its turn number turn, as the in_turn-th of weight: the rest
    -- of the turn of the key the last claim stopped at is turn 0; the keys past the cursor
    -- start with theirs, those from the start (served already in this round) come after.
    SELECT v.key, v.pos, c.id, v.weight,
           CASE WHEN v.pos <> -1 THEN (c.rn - 1) / v.weight
                WHEN c.rn <= carry THEN 0
                ELSE (c.rn - carry - 1) / v.weight + 1 END AS turn,
           CASE WHEN v.pos <> -1 THEN (c.rn - 1) % v.weight + 1
                WHEN c.rn <= carry THEN last_taken + c.rn
                ELSE (c.rn - carry - 1) % v.weight + 1 END AS in_turn
      FROM visited v
      CROSS JOIN LATERAL (
        (SELECT l.id, row_number() OVER (ORDER BY l.priority, l.run_at, l.id) AS rn
           FROM pgtq.live_tasks l
          WHERE v.key IS NOT NULL
            AND l.queue = fair_pick.queue AND l.state = 'queued'
            AND l.fairness_key IS NOT NULL AND l.fairness_key = v.key
            AND l.task = ANY (task_names)
          ORDER BY l.priority, l.run_at, l.id LIMIT greatest(v.quota, 0))
        UNION ALL
        (SELECT l.id, row_number() OVER (ORDER BY l.priority, l.run_at, l.id) AS rn
           FROM pgtq.live_tasks l
          WHERE v.key IS NULL
            AND l.queue = fair_pick.queue AND l.state = 'queued' AND l.fairness_key IS NULL
            AND l.task = ANY (task_names)
          ORDER BY l.priority, l.run_at, l.id LIMIT greatest(v.quota, 0))) c
  ), taken AS (
    SELECT c.id, c.key, c.in_turn, c.weight,
           row_number() OVER (ORDER BY c.turn, c.pos, c.in_turn) AS n
      FROM candidates c ORDER BY c.turn, c.pos, c.in_turn LIMIT take
  )
  SELECT (SELECT array_agg(t.id ORDER BY t.n) FROM taken t),
         (SELECT array_agg(coalesce(t.key, '') ORDER BY t.n) FROM taken t),
         -- Where the next claim starts: after the last key served, or, when none could be,
         -- after the last key looked at (never at the tasks without a key, which would send
         -- it back to the first key).
         coalesce((SELECT coalesce(t.key, '') FROM taken t ORDER BY t.n DESC LIMIT 1),
                  (SELECT t.key FROM turns t WHERE t.key IS NOT NULL ORDER BY t.pos DESC LIMIT 1),
                  last_served),
         -- The walk after the cursor stopped at its bound, not at the last key.
         NOT EXISTS (SELECT 1 FROM taken)
           AND NOT EXISTS (SELECT 1 FROM after_cursor a WHERE a.key IS NULL),
         -- How far the last key served got in its turn, while its weight leaves it more (NULL:
         -- its turn is over, or no key served): with weights of 1 always NULL.
         (SELECT CASE WHEN t.key IS NOT NULL AND t.in_turn < t.weight THEN t.in_turn END
            FROM taken t ORDER BY t.n DESC LIMIT 1),
         -- The first time a key its rate limit held back gets room.
         least(wake_at, (SELECT min(a.free_at) FROM after_cursor a),
               (SELECT min(f.free_at) FROM from_start f))
    INTO chosen, chosen_keys, next_last, look_further, next_taken, wake_at;
    EXIT WHEN NOT look_further;
    last_served := next_last;
    carry := 0;
  END LOOP;
  IF chosen IS NULL AND next_last IS NOT DISTINCT FROM first_cursor THEN
    next_taken := first_taken; -- nobody served: the turn under way stays as it was
  END IF;
  IF next_last IS DISTINCT FROM first_cursor OR next_taken IS DISTINCT FROM first_taken THEN
    INSERT INTO pgtq.fairness_cursors AS c (queue, task_set, last_key, last_taken)
    VALUES (fair_pick.queue, names_hash, next_last, next_taken)
    ON CONFLICT ON CONSTRAINT fairness_cursors_pkey
    DO UPDATE SET last_key = excluded.last_key, last_taken = excluded.last_taken;
  END IF;
  IF chosen IS NOT NULL THEN
    -- Chosen without locks: a task another session claimed meanwhile is skipped here, and so
    -- is one whose name or key a replacing push changed since.
    SELECT array_agg(l.id) INTO picked
      FROM (SELECT l.id FROM pgtq.live_tasks l, unnest(chosen, chosen_keys) AS c(id, key)
             WHERE l.id = ANY (chosen) AND l.id = c.id AND l.state = 'queued'
               AND l.task = ANY (task_names) AND coalesce(l.fairness_key, '') = c.key
               FOR UPDATE OF l SKIP LOCKED) l;
  END IF;
  IF key_rate IS NOT NULL AND picked IS NOT NULL THEN
    -- Each key's window: the claims of the last key_per that took its tasks, and this one.
    INSERT INTO pgtq.key_rate_windows AS w (queue, fairness_key, starts, counts)
    SELECT fair_pick.queue, c.key, ARRAY[turn_at], ARRAY[count(*)::integer]
      FROM unnest(chosen, chosen_keys) AS c(id, key)
     WHERE c.id = ANY (picked) AND c.key <> ''
     GROUP BY c.key
    ON CONFLICT ON CONSTRAINT key_rate_windows_pkey
    DO UPDATE SET (starts, counts) =
                  (SELECT a.new_starts, a.new_counts
                     FROM pgtq.rate_window_add(w.starts, w.counts, turn_at, key_per,
                                               excluded.counts[1]) a);
  END IF;
  IF key_rate IS NOT NULL THEN
    -- pgtq.tick wakes the queue then: a claim that came back short for a key's rate limit is
    -- followed by nothing else that would announce the room. Written after the windows, as
    -- pgtq.claim writes the queue's row after them too (one lock order).
    UPDATE pgtq.queues q SET key_rate_wake_at = wake_at
     WHERE q.queue = fair_pick.queue AND q.key_rate_wake_at IS DISTINCT FROM wake_at;
    -- The schedulers wake the queue then (pgtq.next_rate_room); one asleep past it is told.
    IF FOUND AND wake_at IS NOT NULL THEN
      PERFORM pgtq.wake_schedulers(wake_at);
    END IF;
  END IF;
  RETURN picked;
END $$;

CREATE FUNCTION pgtq.fair_key_room(queue text, key text, task_names text[], key_cap integer,
                                   take integer, key_rate integer, key_per interval,
                                   turn_at timestamptz, OUT room integer, OUT free_at timestamptz)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  used   bigint;
  oldest timestamptz;
BEGIN
  room := 0;
  IF key IS NULL OR NOT EXISTS (SELECT 1 FROM pgtq.live_tasks l
                                 WHERE l.queue = fair_key_room.queue AND l.state = 'queued'
                                   AND l.fairness_key IS NOT NULL
                                   AND l.fairness_key = fair_key_room.key
                                   AND l.task = ANY (task_names)) THEN
    RETURN;
  END IF;
  room := take;
  IF key_cap IS NOT NULL THEN
    -- Counted up to key_cap: a key at its limit costs no more than one with room.
    room := least(room, key_cap - (SELECT count(*) FROM (
                                     SELECT 1 FROM pgtq.live_tasks r
                                      WHERE r.queue = fair_key_room.queue
                                        AND r.state = 'running'
                                        AND r.fairness_key IS NOT NULL
                                        AND r.fairness_key = fair_key_room.key
                                      LIMIT key_cap) x));
  END IF;
  IF key_rate IS NOT NULL THEN
    SELECT sum(s.n), min(s.at) INTO used, oldest
      FROM pgtq.key_rate_windows w, unnest(w.starts, w.counts) AS s(at, n)
     WHERE w.queue = fair_key_room.queue AND w.fairness_key = fair_key_room.key
       AND s.at > turn_at - key_per;
    IF key_rate - coalesce(used, 0) < take THEN
      room := least(room, key_rate - coalesce(used, 0));
      free_at := coalesce(oldest, turn_at) + key_per;
    END IF;
  END IF;
  room := greatest(room, 0);
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
                 FOR UPDATE SKIP LOCKED) p;
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
              l.run_at
  )
  SELECT c.id, c.claim, c.task, c.args, c.attempts, c.max_attempts, c.timeout
    FROM claimed c ORDER BY c.priority, c.run_at, c.id;
END $$;
COMMENT ON FUNCTION pgtq.claim(text, text[], integer, text, interval) IS
'Claims up to max_count (0..100000) queued tasks of queue named in task_names, in (priority, run_at, id) order (none while the queue is paused; with a global concurrency limit, at most the limit less the running tasks of the queue; with a rate limit, at most the limit less the tasks claimed in the last rate_period; while queued tasks carry fairness keys, the keys take turns, each key at most the queue''s key_concurrency running and key_rate_limit claimed per key_rate_period; claims of a limited or fair queue take turns; call it in READ COMMITTED), for worker (1..1024 characters) with a lease of 1 second..1 day. Returns id, claim token (random, 64 bits), task, args, attempt, max_attempts, timeout (the push''s, NULL if none). pgtqd uses it; programs without pgtqd use pgtq.pop. Errors: 22004 NULL, 22023 bad value.';

CREATE FUNCTION pgtq.set_key_rate_limit(queue text, max_starts integer, per interval)
RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  kept boolean; -- the same limit and period as before: the windows stay
BEGIN
  PERFORM pgtq.check_name('queue', set_key_rate_limit.queue);
  IF max_starts NOT BETWEEN 1 AND 1000000 THEN
    RAISE EXCEPTION 'pgtq.set_key_rate_limit: max_starts must be 1..1000000 (NULL: no limit), '
      'got %', max_starts USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF max_starts IS NOT NULL AND per IS NULL THEN
    RAISE EXCEPTION 'pgtq.set_key_rate_limit: per must not be NULL with a limit'
      USING ERRCODE = 'null_value_not_allowed';
  END IF;
  per := pgtq.rate_period('pgtq.set_key_rate_limit', CASE WHEN max_starts IS NOT NULL THEN per END);
  SELECT (q.key_rate_limit, q.key_rate_period) IS NOT DISTINCT FROM (max_starts, per)
    INTO kept FROM pgtq.queues q WHERE q.queue = set_key_rate_limit.queue;
  -- The windows before the queue's row, in the order claims write them (no deadlock).
  IF NOT coalesce(kept, false) THEN
    DELETE FROM pgtq.key_rate_windows w WHERE w.queue = set_key_rate_limit.queue;
  END IF;
  INSERT INTO pgtq.queues AS q (queue, key_rate_limit, key_rate_period)
  VALUES (set_key_rate_limit.queue, max_starts, per)
  ON CONFLICT ON CONSTRAINT queues_pkey
  DO UPDATE SET key_rate_limit = excluded.key_rate_limit,
                key_rate_period = excluded.key_rate_period, key_rate_wake_at = NULL,
                changed_at = now();
  PERFORM pgtq.wake_queue(set_key_rate_limit.queue);
END $$;
COMMENT ON FUNCTION pgtq.set_key_rate_limit(text, integer, interval) IS
'Limits each fairness key of queue to max_starts (1..1000000) tasks claimed in any window of length per (1 second..1 day) across every worker (claimed ahead counts; tasks without a key are not limited); NULL max_starts removes the limit. Errors: 22004 NULL queue or per, 22023 bad name, max_starts or per.';

-- When a rate limit next lets a claim through that it holds back now: the earliest time a
-- full rate window of a queue that is not paused and has queued tasks gets room (its oldest
-- starts leave the window), or a key held back by its queue's rate limit per key does
-- (key_rate_wake_at, 16_fairness.sql). NULL: none is held back. pgtq.tick folds it into its
-- next_due, so that a scheduler wakes the queue then instead of at its next tick by the
-- clock: a limit of 50 a second then starts 50 a second, not 50 per second and a fraction.
CREATE FUNCTION pgtq.next_rate_room() RETURNS timestamptz
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT least(
    (SELECT min(r.room_at)
       FROM pgtq.queues q
       CROSS JOIN LATERAL (
         -- The window's entries, oldest first, with how many leave with each: room comes when
         -- what stays is below the limit.
         SELECT min(w.at) + q.rate_period AS room_at
           FROM (SELECT s.at, sum(s.n) OVER (ORDER BY s.at) AS gone,
                        sum(s.n) OVER () AS held
                   FROM unnest(q.rate_starts, q.rate_counts) AS s(at, n)
                  WHERE s.at > clock_timestamp() - q.rate_period) w
          WHERE w.held >= q.rate_limit AND w.held - w.gone < q.rate_limit) r
      WHERE q.rate_limit IS NOT NULL AND NOT q.paused
        AND (EXISTS (SELECT 1 FROM pgtq.live_tasks l
                      WHERE l.queue = q.queue AND l.state = 'queued' AND l.fairness_key IS NULL)
             OR EXISTS (SELECT 1 FROM pgtq.live_tasks l
                         WHERE l.queue = q.queue AND l.state = 'queued'
                           AND l.fairness_key IS NOT NULL))),
    (SELECT min(q.key_rate_wake_at) FROM pgtq.queues q
      WHERE q.key_rate_wake_at > clock_timestamp() AND q.key_rate_limit IS NOT NULL
        AND NOT q.paused));
$$;
COMMENT ON FUNCTION pgtq.next_rate_room() IS
'When a rate limit (a queue''s, or per fairness key) next lets a claim through that it holds back now, for queues not paused with queued tasks; NULL when none is held back. pgtq.tick''s next_due includes it.';

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
'The scheduler''s work, at most max_count (1..100000) rows per sweep: due scheduled tasks become queued, expired leases are rescued or failed, rate-limited queues with room (for the queue, or for a key its rate limit held back) are woken, registrations of ended sessions in idle_workers and waiting_schedulers, and workers not heard from for a day, are removed. One session at a time (advisory lock); others return zeros. next_due: the earliest scheduled run_at (kept within 100 years of now), or the time a rate limit next has room for a claim it holds back, if earlier. Errors: 22004 NULL, 22023 out of range.';

CREATE OR REPLACE FUNCTION pgtq.reset_queue(queue text) RETURNS boolean
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  settings integer;
  rules    integer;
  weights  integer;
BEGIN
  PERFORM pgtq.check_name('queue', reset_queue.queue);
  -- In the order a claim writes them (cursor, windows, the queue's row): no deadlock with one.
  DELETE FROM pgtq.fairness_cursors c WHERE c.queue = reset_queue.queue;
  DELETE FROM pgtq.key_rate_windows w WHERE w.queue = reset_queue.queue;
  DELETE FROM pgtq.queues q WHERE q.queue = reset_queue.queue;
  GET DIAGNOSTICS settings = ROW_COUNT;
  DELETE FROM pgtq.retention r WHERE r.queue = reset_queue.queue;
  GET DIAGNOSTICS rules = ROW_COUNT;
  DELETE FROM pgtq.fairness_weights w WHERE w.queue = reset_queue.queue;
  GET DIAGNOSTICS weights = ROW_COUNT;
  IF settings > 0 THEN
    PERFORM pgtq.wake_queue(reset_queue.queue);
  END IF;
  RETURN settings + rules + weights > 0;
END $$;
COMMENT ON FUNCTION pgtq.reset_queue(text) IS
'Puts queue''s settings back to the defaults: resumed, no limits, no task defaults, no key weights, no retention rules of its own; its pgtq.queues row goes. Wakes its waiting workers. Returns true when there was anything to reset. Errors: 22004 NULL, 22023 bad name.';

CREATE OR REPLACE FUNCTION pgtq.set_rate_limit(queue text, max_starts integer, per interval) RETURNS void
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
  per := pgtq.rate_period('pgtq.set_rate_limit', CASE WHEN max_starts IS NOT NULL THEN per END);
  INSERT INTO pgtq.queues AS q (queue, rate_limit, rate_period)
  VALUES (set_rate_limit.queue, max_starts, per)
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

CREATE OR REPLACE FUNCTION pgtq.apply_retention(max_count integer DEFAULT 10000,
                                     dry_run boolean DEFAULT false) RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  now_at  timestamptz := clock_timestamp();
  room    integer := max_count;
  removed bigint := 0;
  n       bigint;
  part    regclass;
  expiry  timestamptz;
  going   regclass[] := '{}';
  counts  bigint[] := '{}';
  dropped boolean := false;
BEGIN
  IF max_count IS NULL THEN
    RAISE EXCEPTION 'pgtq.apply_retention: max_count must not be NULL'
      USING ERRCODE = 'null_value_not_allowed';
  END IF;
  IF max_count NOT BETWEEN 1 AND 100000 THEN
    RAISE EXCEPTION 'pgtq.apply_retention: max_count must be between 1 and 100000, got %',
      max_count USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF dry_run IS NULL THEN
    RAISE EXCEPTION 'pgtq.apply_retention: dry_run must not be NULL'
      USING ERRCODE = 'null_value_not_allowed';
  END IF;
  IF dry_run THEN
    SELECT coalesce(sum((SELECT count(*) FROM pgtq.finished_tasks f
                          WHERE f.queue = r.queue AND f.state = r.state
                            AND f.finished_at < now_at - r.keep)), 0)
      INTO removed
      FROM (SELECT DISTINCT p.queue, p.state, p.keep
              FROM pgtq.history_partitions() h, pgtq.history_partition_pairs(h) p
             WHERE p.keep IS NOT NULL) r;
    RETURN removed;
  END IF;
  IF NOT pg_try_advisory_xact_lock(1885828212, 0) THEN
    RETURN 0;
  END IF;
  FOR part IN SELECT h FROM pgtq.history_partitions() h LOOP
    expiry := pgtq.history_partition_expiry(part);
    IF expiry <= now_at THEN
      EXECUTE format('SELECT count(*) FROM %s', part) INTO n; -- before any lock, not under it
      going := going || part;
      counts := counts || n;
    ELSIF room > 0 THEN
      n := pgtq.delete_expired(part, expiry, now_at, room);
      removed := removed + n;
      room := room - n;
    END IF;
  END LOOP;
  FOR i IN 1 .. cardinality(going) LOOP
    IF pgtq.drop_history_partition(going[i], now_at) THEN
      removed := removed + counts[i];
      dropped := true;
    ELSIF NOT dropped AND room > 0 THEN
      -- Not now (a long reader holds the history, or a rule changed): past their retention,
      -- its tasks go row by row meanwhile. The next partitions would wait as long: not tried,
      -- their tasks go row by row too.
      FOR k IN i .. cardinality(going) LOOP
        EXIT WHEN room = 0;
        n := pgtq.delete_expired(going[k], 'infinity', now_at, room);
        removed := removed + n;
        room := room - n;
      END LOOP;
      EXIT;
    END IF;
  END LOOP;
  -- The rate windows of fairness keys (16_fairness.sql) that have counted nothing for an hour:
  -- not at once, as a claim whose turn began earlier may still count them, and not in tick,
  -- which pgtq.pop runs in the caller's transaction (its row locks would stop claims). Also
  -- those of a queue without a rate limit per key.
  DELETE FROM pgtq.key_rate_windows w
   WHERE (w.queue, w.fairness_key) IN (
           SELECT g.queue, g.fairness_key FROM pgtq.key_rate_windows g
             LEFT JOIN pgtq.queues q ON q.queue = g.queue
            WHERE q.key_rate_limit IS NULL
               OR g.starts[cardinality(g.starts)] < now_at - q.key_rate_period - interval '1 hour'
            LIMIT max_count
              FOR UPDATE OF g SKIP LOCKED);
  -- Last: making a partition locks the default partition until this transaction ends.
  BEGIN
    PERFORM pgtq.add_history_partitions();
  EXCEPTION WHEN insufficient_privilege THEN
    NULL; -- a role that does not own the history: tasks of days without one go to the default
  END;
  RETURN removed;
END $$;
COMMENT ON FUNCTION pgtq.apply_retention(integer, boolean) IS
'Removes finished tasks past their retention (pgtq.retention): makes the history partitions of today and the next 3 days, deletes at most max_count (1..100000, default 10000) of the others past it, and drops every past day''s partition whose tasks are all past their retention; returns how many tasks it removed. Also removes up to max_count rate windows of fairness keys that counted nothing for an hour (pgtq.key_rate_windows). A task goes at most a quarter of its retention (and at most a day) after its retention ends. pgtqd calls it; one caller at a time works (advisory lock 1885828212, 0), others get 0. dry_run: how many are past their retention now (all), changing nothing. Errors: 22004 NULL, 22023 max_count out of range.';

CREATE OR REPLACE VIEW pgtq.queue_stats AS
  WITH live AS (
    SELECT l.queue,
           count(*) FILTER (WHERE l.state = 'queued') AS queued,
           count(*) FILTER (WHERE l.state = 'scheduled') AS scheduled,
           count(*) FILTER (WHERE l.state = 'running') AS running,
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
         recent.run_p50 AS run_p50_last_hour, recent.run_p95 AS run_p95_last_hour
    FROM names n
    LEFT JOIN live ON live.queue = n.queue
    LEFT JOIN recent ON recent.queue = n.queue
    LEFT JOIN workers ON workers.queue = n.queue
    LEFT JOIN pgtq.queues q ON q.queue = n.queue;
COMMENT ON VIEW pgtq.queue_stats IS
  'One row per queue with live tasks, tasks ended in the last hour, settings or live workers: queued, scheduled, running, oldest_queued_age (how long the oldest due task has waited), succeeded/failed/cancelled in the last hour, live workers and their slots, paused and limits, queued_keys (how many fairness keys have queued tasks), the rate limit per fairness key, and of the tasks ended in the last hour the median and 95th percentile of their wait (due to started, of the last attempt) and run time (NULL: none started).';

CREATE VIEW pgtq.queue_minutes AS
  SELECT f.queue, date_bin('1 minute', f.finished_at, timestamptz '2000-01-01 00:00+00') AS minute,
         count(*) FILTER (WHERE f.state = 'succeeded') AS succeeded,
         count(*) FILTER (WHERE f.state = 'failed') AS failed,
         count(*) FILTER (WHERE f.state = 'cancelled') AS cancelled,
         percentile_cont(0.5) WITHIN GROUP (ORDER BY f.started_at - f.run_at)
           FILTER (WHERE f.started_at >= f.run_at) AS wait_p50,
         percentile_cont(0.95) WITHIN GROUP (ORDER BY f.started_at - f.run_at)
           FILTER (WHERE f.started_at >= f.run_at) AS wait_p95,
         percentile_cont(0.99) WITHIN GROUP (ORDER BY f.started_at - f.run_at)
           FILTER (WHERE f.started_at >= f.run_at) AS wait_p99,
         percentile_cont(0.5) WITHIN GROUP (ORDER BY f.finished_at - f.started_at)
           FILTER (WHERE f.started_at >= f.run_at) AS run_p50,
         percentile_cont(0.95) WITHIN GROUP (ORDER BY f.finished_at - f.started_at)
           FILTER (WHERE f.started_at >= f.run_at) AS run_p95,
         percentile_cont(0.99) WITHIN GROUP (ORDER BY f.finished_at - f.started_at)
           FILTER (WHERE f.started_at >= f.run_at) AS run_p99
    FROM pgtq.finished_tasks f
   WHERE f.finished_at >= date_bin('1 minute', now(), timestamptz '2000-01-01 00:00+00')
                         - interval '1 hour'
   GROUP BY 1, 2;
COMMENT ON VIEW pgtq.queue_minutes IS
  'Per queue and minute of the last hour in which its tasks ended: succeeded, failed, cancelled; wait_p50/p95/p99 (due to started, of the last attempt) and run_p50/p95/p99 (started to finished) of the tasks that started.';

-- The registry says which task names each pgtqd handles (workers.task_names, passed to
-- worker_seen; a pgtqd older than this calls without it), and pgtq.unhandled_tasks lists the
-- queued tasks no live worker will take.
ALTER TABLE pgtq.workers ADD COLUMN task_names text[];

-- The registry also names each worker's lease session, so that the tasks of a pgtqd killed
-- with -9 are rescued within seconds instead of a whole lease (13_workers.sql).
ALTER TABLE pgtq.workers
  ADD COLUMN session_pid integer,
  ADD COLUMN session_started timestamptz,
  ADD COLUMN server_started timestamptz,
  ADD COLUMN session_grace interval,
  ADD COLUMN session_gone_at timestamptz,
  ADD COLUMN session_shared_until timestamptz;
COMMENT ON TABLE pgtq.workers IS
  'Workers (pgtqd), the task names each handles, and when each was last heard from; pgtq.live_workers shows those alive.';

DROP FUNCTION pgtq.worker_seen(text, text, text, integer, text, integer, text, interval, timestamptz);
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
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
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
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
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
       FOR UPDATE OF l SKIP LOCKED
  )
  UPDATE pgtq.live_tasks l SET locked_until = clock_timestamp()
    FROM held WHERE l.id = held.id;
  GET DIAGNOSTICS ended = ROW_COUNT;
  RETURN ended;
END $$;
COMMENT ON FUNCTION pgtq.sweep_gone_workers() IS
'Ends the leases of the running tasks of workers (pgtq.workers) whose recorded lease session has been gone for their session_grace without a newer registration, so that the next pgtq.tick rescues them instead of waiting out the leases. Notes sessions found gone; ignores sessions of an earlier server run. Returns the number of leases ended. One caller at a time; the others return 0.';

CREATE OR REPLACE VIEW pgtq.live_workers AS
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
