-- Fairness between the keys of a queue: push's fairness_key (a tenant, a customer, an API
-- account), the claims that take turns between keys, and the limit of running tasks per key.
--
-- Without keys a queue is claimed in (priority, run_at, id) order, so one tenant's backlog of
-- a million tasks delays every task pushed after it. While queued tasks of a queue carry
-- keys, pgtq.claim hands its choice to pgtq.fair_pick, which serves the keys in turn (round
-- robin, in key order, from where the queue's last fair claim stopped), one task per key per
-- round, until the claim has what it asked for or no key has more: a key with ten queued
-- tasks waits for at most ceil(K / n) claims of n tasks for each of them, K the number of keys
-- with queued tasks, whatever the other keys hold. The tasks without a key are one more key.
-- Inside one key, claim order holds; between keys, turns come before priority.
--
-- The claims of such a queue take the queue's turn (04_claim.sql), as claims of a limited
-- queue do, so that where the last one stopped (pgtq.fairness_cursors) and how many tasks of
-- each key run are read by one claim at a time: a per-key limit is never overshot.

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
    RAISE EXCEPTION '% must be a one-dimensional array as long as tasks (%), got % elements',
      what, given, cardinality(fairness_keys) USING ERRCODE = 'invalid_parameter_value';
  END IF;
  SELECT k.n INTO bad FROM unnest(fairness_keys) WITH ORDINALITY AS k(key, n)
   WHERE octet_length(k.key) NOT BETWEEN 1 AND 1024 ORDER BY k.n LIMIT 1;
  IF FOUND THEN
    PERFORM pgtq.check_fairness_key(what || '[' || bad || ']', fairness_keys[bad]);
  END IF;
END $$;

-- The ids of up to take queued tasks of queue named in task_names, chosen fairly between
-- keys (top of this file), locked FOR UPDATE (rows another session locks are skipped), and
-- moves the queue's cursor past the last key served. key_cap: at most this many running
-- tasks per key (NULL: no limit); the tasks without a key have no such limit. Called only by
-- pgtq.claim while it holds the queue's turn; NULL when there is nothing to take.
--
-- Cost: at most take + 1 keys are visited (4 take + 64 with key_cap, since keys at their
-- limit are passed over), each with one descent of live_tasks_fair to find it, one range of
-- it for its tasks, and (with key_cap) one range of live_tasks_key_running. A claim that
-- finds only keys at their limit still moves the cursor past them, so the next one looks
-- further.
CREATE FUNCTION pgtq.fair_pick(queue text, task_names text[], take integer, key_cap integer)
RETURNS bigint[]
LANGUAGE plpgsql
SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_generic_plan SET enable_seqscan = off SET jit = off AS $$
DECLARE
  last_served text;  -- where the last fair claim stopped: a key, '' (no key) or NULL (start)
  visits      integer := CASE WHEN key_cap IS NULL THEN take + 1 ELSE 4 * take + 64 END;
  chosen      bigint[];
  picked      bigint[];
  next_last   text;
BEGIN
  SELECT c.last_key INTO last_served FROM pgtq.fairness_cursors c
   WHERE c.queue = fair_pick.queue;
  WITH RECURSIVE after_cursor(key, n) AS (
    -- The keys after the cursor, one index descent each (a loose index scan).
    SELECT (SELECT min(l.fairness_key) FROM pgtq.live_tasks l
             WHERE l.queue = fair_pick.queue AND l.state = 'queued'
               AND l.fairness_key IS NOT NULL AND l.fairness_key > coalesce(last_served, '')),
           1
    UNION ALL
    SELECT (SELECT min(l.fairness_key) FROM pgtq.live_tasks l
             WHERE l.queue = fair_pick.queue AND l.state = 'queued'
               AND l.fairness_key IS NOT NULL AND l.fairness_key > a.key),
           a.n + 1
      FROM after_cursor a WHERE a.key IS NOT NULL AND a.n < visits
  ), from_start(key, n) AS (
    -- Then, round again, the keys up to the cursor.
    SELECT (SELECT min(l.fairness_key) FROM pgtq.live_tasks l
             WHERE l.queue = fair_pick.queue AND l.state = 'queued'
               AND l.fairness_key IS NOT NULL),
           1
     WHERE last_served <> ''
    UNION ALL
    SELECT (SELECT min(l.fairness_key) FROM pgtq.live_tasks l
             WHERE l.queue = fair_pick.queue AND l.state = 'queued'
               AND l.fairness_key IS NOT NULL AND l.fairness_key > f.key),
           f.n + 1
      FROM from_start f WHERE f.key IS NOT NULL AND f.key < last_served AND f.n < visits
  ), turns(key, pos) AS (
    -- The tasks without a key take their turn where a round starts: first when no claim
    -- stopped anywhere yet, else after the keys past the cursor.
    SELECT NULL::text, CASE WHEN last_served IS NULL THEN 0 ELSE visits + 1 END
    UNION ALL
    SELECT a.key, a.n FROM after_cursor a WHERE a.key IS NOT NULL
    UNION ALL
    SELECT f.key, visits + 1 + f.n FROM from_start f
     WHERE f.key IS NOT NULL AND f.key <= last_served
  ), visited AS (
    SELECT t.key, t.pos,
           CASE WHEN key_cap IS NULL OR t.key IS NULL THEN take
                ELSE least(take, key_cap - (SELECT count(*) FROM pgtq.live_tasks r
                                             WHERE r.queue = fair_pick.queue
                                               AND r.state = 'running'
                                               AND r.fairness_key IS NOT NULL
                                               AND r.fairness_key = t.key)) END AS room
      FROM (SELECT * FROM turns t ORDER BY t.pos LIMIT visits + 1) t
  ), candidates AS (
    SELECT v.key, v.pos, c.id, c.round
      FROM visited v
      CROSS JOIN LATERAL (
        (SELECT l.id, row_number() OVER (ORDER BY l.priority, l.run_at, l.id) AS round
           FROM pgtq.live_tasks l
          WHERE v.key IS NOT NULL AND v.room > 0
            AND l.queue = fair_pick.queue AND l.state = 'queued'
            AND l.fairness_key IS NOT NULL AND l.fairness_key = v.key
            AND l.task = ANY (task_names)
          ORDER BY l.priority, l.run_at, l.id LIMIT greatest(v.room, 0))
        UNION ALL
        (SELECT l.id, row_number() OVER (ORDER BY l.priority, l.run_at, l.id) AS round
           FROM pgtq.live_tasks l
          WHERE v.key IS NULL
            AND l.queue = fair_pick.queue AND l.state = 'queued' AND l.fairness_key IS NULL
            AND l.task = ANY (task_names)
          ORDER BY l.priority, l.run_at, l.id LIMIT take)) c
  ), taken AS (
    SELECT c.id, c.key, row_number() OVER (ORDER BY c.round, c.pos) AS n
      FROM candidates c ORDER BY c.round, c.pos LIMIT take
  )
  SELECT (SELECT array_agg(t.id ORDER BY t.n) FROM taken t),
         coalesce((SELECT coalesce(t.key, '') FROM taken t ORDER BY t.n DESC LIMIT 1),
                  (SELECT coalesce(v.key, '') FROM visited v ORDER BY v.pos DESC LIMIT 1))
    INTO chosen, next_last;
  IF next_last IS NOT NULL THEN
    INSERT INTO pgtq.fairness_cursors AS c (queue, last_key)
    VALUES (fair_pick.queue, next_last)
    ON CONFLICT ON CONSTRAINT fairness_cursors_pkey DO UPDATE SET last_key = excluded.last_key;
  END IF;
  IF chosen IS NULL THEN
    RETURN NULL;
  END IF;
  -- Chosen without locks: a task another session claimed meanwhile is skipped here.
  SELECT array_agg(l.id) INTO picked
    FROM (SELECT l.id FROM pgtq.live_tasks l
           WHERE l.id = ANY (chosen) AND l.state = 'queued'
             FOR UPDATE SKIP LOCKED) l;
  RETURN picked;
END $$;

-- At most max_running (1..100000) tasks of each fairness key of queue running at once, across
-- every pgtqd and program that claims; NULL removes the limit. Tasks without a key are not
-- limited by it (the queue's global concurrency limit still applies to them). Claimed ahead
-- of the workers counts as running; lowering the limit stops nothing that runs. Takes effect
-- at the next claim; wakes the queue's waiting workers, since a raised or removed limit
-- leaves room.
CREATE FUNCTION pgtq.set_key_concurrency(queue text, max_running integer) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
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
