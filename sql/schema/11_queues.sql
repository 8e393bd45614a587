-- Queue controls: pause and resume, the global concurrency limit, the rate limit and the
-- defaults of new tasks. The limit per fairness key is in 16_fairness.sql.
--
-- A paused queue accepts pushes (they wait, queued) but pgtq.claim and pgtq.pop hand out
-- none of its tasks, on every daemon, from the first claim that starts after the pause
-- commits. Tasks already claimed (running, or held by a daemon ahead of its workers) finish.
-- Delayed tasks still become queued when due, and expired leases are still rescued. Resuming
-- wakes the queue's waiting workers.

-- Pauses queue (1..128 characters of [A-Za-z0-9_.:-]). Returns true when it was not paused.
CREATE FUNCTION pgtq.pause(queue text) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
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

-- Resumes queue and wakes its waiting workers. Returns true when it was paused.
CREATE FUNCTION pgtq.resume(queue text) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
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

-- Wakes the waiting workers of those of queues that have a concurrency limit, global or per
-- fairness key (and are not paused): called where tasks stop running (finish_many, tick,
-- release), since the room they leave is announced by nobody else. Cheap when no queue has a
-- limit: one probe.
CREATE FUNCTION pgtq.wake_limited(queues text[]) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  PERFORM pgtq.wake_queue(q.queue) FROM pgtq.queues q
   WHERE (q.global_concurrency IS NOT NULL OR q.key_concurrency IS NOT NULL) AND NOT q.paused
     AND q.queue = ANY (queues);
END $$;

-- At most max_running (1..100000) tasks of queue running at once, across every pgtqd and
-- program that claims (pgtq.claim counts them); NULL removes the limit. Tasks a daemon has
-- claimed ahead of its workers (prefetch) count as running. Lowering the limit stops nothing
-- that runs: claims wait until fewer run. Takes effect at the next claim; wakes the queue's
-- waiting workers, since a raised or removed limit leaves room.
CREATE FUNCTION pgtq.set_global_concurrency(queue text, max_running integer) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  PERFORM pgtq.check_name('queue', set_global_concurrency.queue);
  IF max_running NOT BETWEEN 1 AND 100000 THEN
    RAISE EXCEPTION 'pgtq.set_global_concurrency: max_running must be 1..100000 (NULL: no limit; '
      'pgtq.pause stops a queue), got %', max_running USING ERRCODE = 'invalid_parameter_value';
  END IF;
  INSERT INTO pgtq.queues AS q (queue, global_concurrency)
  VALUES (set_global_concurrency.queue, max_running)
  ON CONFLICT ON CONSTRAINT queues_pkey
  DO UPDATE SET global_concurrency = max_running, changed_at = now();
  PERFORM pgtq.wake_queue(set_global_concurrency.queue);
END $$;
COMMENT ON FUNCTION pgtq.set_global_concurrency(text, integer) IS
'Limits queue to max_running (1..100000) tasks running at once across every worker (claimed ahead counts); NULL removes the limit. Running tasks are never stopped. Errors: 22004 NULL queue, 22023 bad name or max_running.';

-- At most max_starts (1..1000000) tasks of queue claimed in any window of length per (1 second
-- to 1 day), across every pgtqd and program that claims (pgtq.claim counts them; claimed ahead
-- of the workers counts as started). NULL max_starts removes the limit (per is then ignored).
-- Claims over the limit wait until the window has room; pgtq.tick wakes the queue's waiting
-- workers once it has, so the next claim comes within the scheduler's interval. per is taken
-- as its length in seconds (pgtq.rate_period: '1 day' is 24 hours). A new limit or period
-- starts with an empty window; setting the same again keeps it.
CREATE FUNCTION pgtq.set_rate_limit(queue text, max_starts integer, per interval) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
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

-- What a push to queue that gives no priority, max_attempts or timeout of its own stores:
-- priority (-32768..32767), max_attempts (1..1000), timeout (more than 0, at most 365 days, no
-- months or years); NULL: the built-in default (0, 5, none: the task name's timeout, else
-- pgtqd's). All three are set at once. Tasks already pushed keep what they have; a push that
-- gives a value keeps it.
CREATE FUNCTION pgtq.set_task_defaults(queue text, priority integer, max_attempts integer,
                                       timeout interval) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  PERFORM pgtq.check_name('queue', set_task_defaults.queue);
  IF priority NOT BETWEEN -32768 AND 32767 THEN
    RAISE EXCEPTION 'pgtq.set_task_defaults: priority must be -32768..32767 (NULL: 0), got %',
      priority USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF max_attempts NOT BETWEEN 1 AND 1000 THEN
    RAISE EXCEPTION 'pgtq.set_task_defaults: max_attempts must be 1..1000 (NULL: 5), got %',
      max_attempts USING ERRCODE = 'invalid_parameter_value';
  END IF;
  PERFORM pgtq.check_timeout('pgtq.set_task_defaults: timeout', timeout);
  INSERT INTO pgtq.queues AS q (queue, default_priority, default_max_attempts, default_timeout)
  VALUES (set_task_defaults.queue, priority, max_attempts, timeout)
  ON CONFLICT ON CONSTRAINT queues_pkey
  DO UPDATE SET default_priority = excluded.default_priority,
                default_max_attempts = excluded.default_max_attempts,
                default_timeout = excluded.default_timeout, changed_at = now();
END $$;
COMMENT ON FUNCTION pgtq.set_task_defaults(text, integer, integer, interval) IS
'What a push to queue that gives none of its own stores: priority (-32768..32767), max_attempts (1..1000), timeout (more than 0, at most 365 days); NULL: 0, 5, none (the task name''s timeout, else pgtqd''s). Sets all three; tasks already pushed keep theirs. Errors: 22004 NULL queue, 22023 bad name or value.';

-- Puts queue's settings back to the defaults: resumed, no global or per-key concurrency or
-- rate limits, no task defaults, no key weights, no retention rules of its own (the default's
-- apply). Its row in pgtq.queues goes, so a
-- queue named by mistake (pgtqctl queue typo --rate-limit 5) leaves pgtq.queue_stats once it
-- has no tasks or workers. Wakes the queue's waiting workers, since removed limits leave room.
-- Returns true when there was anything to reset.
CREATE FUNCTION pgtq.reset_queue(queue text) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
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
