-- Fairness between the keys of a queue: push's fairness_key (a tenant, a customer, an API
-- account), the claims that take turns between keys, the limit of running tasks per key and
-- the rate limit per key.
--
-- Without keys a queue is claimed in (priority, run_at, id) order, so one tenant's backlog of
-- a million tasks delays every task pushed after it. While queued tasks of a queue carry
-- keys, pgtq.claim hands its choice to pgtq.fair_pick, which serves the keys in turn (round
-- robin, in key order, from where the queue's last fair claim stopped), one task per key per
-- round (w tasks for a key of weight w, pgtq.set_key_weight), until the claim has what it
-- asked for or no key has more: a key with ten queued tasks waits for at most ceil(W / n)
-- claims of n tasks for each turn, W the sum of the weights of the keys with queued tasks (K,
-- their number, without weights), whatever the other keys hold. A turn may span claims: the
-- cursor keeps how many tasks its key took in it. The tasks without a key are one more key, of
-- weight 1. Inside one key, claim order holds; between keys, turns come before priority.
--
-- The claims of such a queue take the queue's turn (04_claim.sql), as claims of a limited
-- queue do, so that where the last one stopped (pgtq.fairness_cursors) and how many tasks of
-- each key run or started lately are read by one claim at a time: a per-key limit is never
-- overshot.

-- Raises the precise error for a fairness key that is not 1..1024 bytes (NULL is none).
CREATE FUNCTION pgtq.check_fairness_key(what text, fairness_key text) RETURNS void
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF octet_length(fairness_key) NOT BETWEEN 1 AND 1024 THEN
    RAISE EXCEPTION '% must be 1..1024 bytes long, got %', what, octet_length(fairness_key)
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
END $$;

-- Checks push_many's fairness_keys: one-dimensional, as long as tasks (given; NULL when
-- tasks is NULL, which push_many refuses after this), every key NULL or 1..1024 bytes.
CREATE FUNCTION pgtq.check_fairness_keys(what text, fairness_keys text[], given integer)
RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  bad bigint;
BEGIN
  IF coalesce(array_ndims(fairness_keys), 1) <> 1 OR cardinality(fairness_keys) <> given THEN
    RAISE EXCEPTION '% must be a one-dimensional array as long as tasks (%), got % elements in % '
      'dimensions', what, given, cardinality(fairness_keys), array_ndims(fairness_keys)
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  SELECT k.n INTO bad FROM unnest(fairness_keys) WITH ORDINALITY AS k(key, n)
   WHERE octet_length(k.key) NOT BETWEEN 1 AND 1024 ORDER BY k.n LIMIT 1;
  IF FOUND THEN
    PERFORM pgtq.check_fairness_key(what || '[' || bad || ']', fairness_keys[bad]);
  END IF;
END $$;

-- The ids of up to take queued tasks of queue named in task_names, chosen fairly between
-- keys (top of this file), locked FOR UPDATE (rows another session locks are skipped), and
-- moves the cursor to the last key served (and how far it got in its turn, when its weight
-- leaves it more). key_cap: at most this many running tasks per key (NULL: no limit);
-- key_rate: at most this many tasks of a key claimed in any window of key_per (NULL: no
-- limit), the window of this claim ending at turn_at, and each key it takes from gets this
-- claim in its window (pgtq.key_rate_windows), while the queue's key_rate_wake_at says when
-- the first key the limit held back gets room; the tasks without a key have no such limits.
-- Called only by pgtq.claim while it holds the queue's turn; NULL when there is nothing to
-- take.
--
-- A cursor per queue and set of task names: daemons that serve other task names (a pgtqd
-- with other plugins) go round the keys on their own, and do not move each other past keys.
-- Keys that cannot be served now (at their limit, or without a queued task of these names)
-- are passed over and do not count: the walk goes on until take keys can be served, in
-- stretches of 4 take + 64 keys, at most 64 of them per claim (and never more than once round
-- the keys). A claim that finds none still moves the cursor past the keys it looked at, so
-- the next one looks further.
--
-- Cost: per key looked at, one descent of live_tasks_fair to find it, one probe for a queued
-- task of these names (a walk over the key's tasks of other names), and with key_cap one
-- range of live_tasks_key_running (at most key_cap entries), with key_rate one row of
-- key_rate_windows (at most about 65 entries); then, of S keys that can be served, at most
-- the larger of its weight and take - S + 1 tasks each are read, and with key_rate each key
-- served gets one upsert.
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
               FOR NO KEY UPDATE OF l SKIP LOCKED) l;
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

-- How many tasks of key fair_pick may take now (room), at most take: 0 without a queued task
-- of task_names (or for no key), else take, less what key_cap (NULL: no limit) leaves beside
-- the key's running tasks, and what key_rate (NULL: no limit) leaves beside the key's claims
-- of the last key_per before turn_at. When key_rate leaves less than take, free_at is when the
-- key gets more: its window's oldest claim (or this one, at turn_at) leaves it. Called once
-- per key fair_pick looks at, under its settings (generic plans, no seq scans), its plans kept
-- for the session.
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

-- At most max_running (1..100000) tasks of each fairness key of queue running at once, across
-- every pgtqd and program that claims; NULL removes the limit. Tasks without a key are not
-- limited by it (the queue's global concurrency limit still applies to them). Claimed ahead
-- of the workers counts as running; lowering the limit stops nothing that runs. Takes effect
-- at the next claim; wakes the queue's waiting workers, since a raised or removed limit
-- leaves room.
CREATE FUNCTION pgtq.set_key_concurrency(queue text, max_running integer) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  PERFORM pgtq.check_name('queue', set_key_concurrency.queue);
  IF max_running NOT BETWEEN 1 AND 100000 THEN
    RAISE EXCEPTION 'pgtq.set_key_concurrency: max_running must be 1..100000 (NULL: no limit), '
      'got %', max_running USING ERRCODE = 'invalid_parameter_value';
  END IF;
  INSERT INTO pgtq.queues AS q (queue, key_concurrency)
  VALUES (set_key_concurrency.queue, max_running)
  ON CONFLICT ON CONSTRAINT queues_pkey
  DO UPDATE SET key_concurrency = max_running, changed_at = now();
  PERFORM pgtq.wake_queue(set_key_concurrency.queue);
END $$;
COMMENT ON FUNCTION pgtq.set_key_concurrency(text, integer) IS
'Limits each fairness key of queue to max_running (1..100000) tasks running at once across every worker (claimed ahead counts; tasks without a key are not limited); NULL removes the limit. Running tasks are never stopped. Errors: 22004 NULL queue, 22023 bad name or max_running.';

-- At most max_starts (1..1000000) tasks of each fairness key of queue claimed in any window of
-- length per (1 second to 1 day), across every pgtqd and program that claims (claimed ahead
-- of the workers counts as started); NULL max_starts removes the limit (per is then ignored).
-- Tasks without a key are not limited by it (the queue's own rate limit still applies to
-- them). A key over its limit is passed over while the other keys take their turns; pgtq.tick
-- wakes the queue's waiting workers once a key the limit held back has room again. per is
-- taken as its length in seconds (pgtq.rate_period). A new limit or period starts every key
-- with an empty window; setting the same again keeps them.
CREATE FUNCTION pgtq.set_key_rate_limit(queue text, max_starts integer, per interval)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
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

-- Gives fairness key of queue weight (1..1000): in the fair claims of queue it takes up to
-- weight tasks per turn where a key of weight 1 takes one. NULL removes its weight (1 again).
-- Takes effect at the next claim (a turn under way keeps what it took); a key may be given a
-- weight before it has tasks. Weights stay until removed or pgtq.reset_queue.
CREATE FUNCTION pgtq.set_key_weight(queue text, fairness_key text, weight integer)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  PERFORM pgtq.check_name('queue', set_key_weight.queue);
  IF set_key_weight.fairness_key IS NULL THEN
    RAISE EXCEPTION 'pgtq.set_key_weight: fairness_key must not be NULL'
      USING ERRCODE = 'null_value_not_allowed';
  END IF;
  PERFORM pgtq.check_fairness_key('pgtq.set_key_weight: fairness_key', set_key_weight.fairness_key);
  IF set_key_weight.weight NOT BETWEEN 1 AND 1000 THEN
    RAISE EXCEPTION 'pgtq.set_key_weight: weight must be 1..1000 (NULL: 1 again), got %',
      set_key_weight.weight USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF set_key_weight.weight IS NULL THEN
    DELETE FROM pgtq.fairness_weights w
     WHERE w.queue = set_key_weight.queue AND w.fairness_key = set_key_weight.fairness_key;
  ELSE
    INSERT INTO pgtq.fairness_weights AS w (queue, fairness_key, weight)
    VALUES (set_key_weight.queue, set_key_weight.fairness_key, set_key_weight.weight)
    ON CONFLICT ON CONSTRAINT fairness_weights_pkey
    DO UPDATE SET weight = excluded.weight, changed_at = now();
  END IF;
END $$;
COMMENT ON FUNCTION pgtq.set_key_weight(text, text, integer) IS
'Gives fairness_key of queue a weight (1..1000): fair claims of queue serve it up to weight tasks per turn where a key of weight 1 gets one; NULL removes it (1 again). Errors: 22004 NULL queue or fairness_key, 22023 bad name, fairness_key (1..1024 bytes) or weight.';
