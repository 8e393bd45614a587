-- Pause and resume a queue: pgtq.queues holds a queue's settings (a row appears when a queue
-- is paused or resumed), pgtq.claim (and so pgtq.pop) hands out nothing of a paused queue,
-- and pgtq.resume wakes the queue's waiting workers. Pushes to a paused queue are accepted.

CREATE TABLE pgtq.queues (
  queue      text PRIMARY KEY,
  paused     boolean NOT NULL DEFAULT false, -- no claims while true; pushes still accepted
  changed_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE pgtq.queues IS
  'Queue settings: paused (no claims while true, pushes still accepted). A queue without a row has the defaults.';


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
  SELECT array_agg(p.id) INTO picked
    FROM (SELECT l.id FROM pgtq.live_tasks l
           WHERE l.queue = claim.queue AND l.state = 'queued' AND l.task = ANY (task_names)
             -- Evaluated once per call (it names no column of l): a paused queue hands out
             -- nothing.
             AND NOT EXISTS (SELECT 1 FROM pgtq.queues q
                              WHERE q.queue = claim.queue AND q.paused)
           ORDER BY l.priority, l.run_at, l.id
           LIMIT max_count
             FOR UPDATE SKIP LOCKED) p;
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
'Claims up to max_count (0..100000) queued tasks of queue named in task_names, in (priority, run_at, id) order (none while the queue is paused), for worker (1..1024 characters) with a lease of 1 second..1 day. Returns id, claim token (random, 64 bits), task, args, attempt, max_attempts, timeout (the push''s, NULL if none). pgtqd uses it; programs without pgtqd use pgtq.pop. Errors: 22004 NULL, 22023 bad value.';


CREATE FUNCTION pgtq.pause(queue text) RETURNS boolean
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  changed text;
BEGIN
  PERFORM pgtq.check_name('queue', pause.queue);
  -- A row comes back only when one was inserted or changed: not when it was paused already.
  INSERT INTO pgtq.queues AS q (queue, paused) VALUES (pause.queue, true)
  ON CONFLICT ON CONSTRAINT queues_pkey
  DO UPDATE SET paused = true, changed_at = now() WHERE NOT q.paused
  RETURNING q.queue INTO changed;
  RETURN changed IS NOT NULL;
END $$;
COMMENT ON FUNCTION pgtq.pause(text) IS
'Pauses queue: pushes are accepted, nothing is claimed until pgtq.resume; tasks already claimed finish. Returns true when it was not paused. Errors: 22004 NULL, 22023 bad name.';


CREATE FUNCTION pgtq.resume(queue text) RETURNS boolean
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  PERFORM pgtq.check_name('queue', resume.queue);
  UPDATE pgtq.queues q SET paused = false, changed_at = now()
   WHERE q.queue = resume.queue AND q.paused;
  IF NOT FOUND THEN
    RETURN false;
  END IF;
  PERFORM pgtq.wake_queue(resume.queue);
  RETURN true;
END $$;
COMMENT ON FUNCTION pgtq.resume(text) IS
'Resumes a paused queue and wakes its waiting workers. Returns true when it was paused. Errors: 22004 NULL, 22023 bad name.';

