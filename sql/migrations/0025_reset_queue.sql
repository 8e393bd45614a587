-- pgtq.reset_queue: a queue's settings back to the defaults, its row removed (a queue named
-- by mistake no longer stays in pgtq.queue_stats).

-- Puts queue's settings back to the defaults: resumed, no global concurrency or rate limit,
-- no retention rules of its own (the default's apply). Its row in pgtq.queues goes, so a
-- queue named by mistake (pgtqctl queue typo --rate-limit 5) leaves pgtq.queue_stats once it
-- has no tasks or workers. Wakes the queue's waiting workers, since removed limits leave room.
-- Returns true when there was anything to reset.
CREATE FUNCTION pgtq.reset_queue(queue text) RETURNS boolean
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  settings integer;
  rules    integer;
BEGIN
  PERFORM pgtq.check_name('queue', reset_queue.queue);
  DELETE FROM pgtq.queues q WHERE q.queue = reset_queue.queue;
  GET DIAGNOSTICS settings = ROW_COUNT;
  DELETE FROM pgtq.retention r WHERE r.queue = reset_queue.queue;
  GET DIAGNOSTICS rules = ROW_COUNT;
  IF settings > 0 THEN
    PERFORM pgtq.wake_queue(reset_queue.queue);
  END IF;
  RETURN settings + rules > 0;
END $$;
COMMENT ON FUNCTION pgtq.reset_queue(text) IS
'Puts queue''s settings back to the defaults: resumed, no limits, no retention rules of its own; its pgtq.queues row goes. Wakes its waiting workers. Returns true when there was anything to reset. Errors: 22004 NULL, 22023 bad name.';
