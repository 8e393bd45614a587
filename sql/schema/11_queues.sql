-- Queue controls: pause and resume.
--
-- A paused queue accepts pushes (they wait, queued) but pgtq.claim and pgtq.pop hand out
-- none of its tasks, on every daemon, from the first claim that starts after the pause
-- commits. Tasks already claimed (running, or held by a daemon ahead of its workers) finish.
-- Delayed tasks still become queued when due, and expired leases are still rescued. Resuming
-- wakes the queue's waiting workers.

-- Pauses queue (1..128 characters of [A-Za-z0-9_.:-]). Returns true when it was not paused.
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

-- Resumes queue and wakes its waiting workers. Returns true when it was paused.
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
