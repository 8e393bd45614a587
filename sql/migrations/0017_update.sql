-- pgtq.update changes a task that has not started, or that failed or was cancelled: its args,
-- priority, max_attempts and timeout (with push's rules), and the run_at of a queued or
-- scheduled one. Fixing a failed task's args before pgtq.retry is the use it was made for.


CREATE FUNCTION pgtq.update(id bigint, args jsonb DEFAULT NULL, priority integer DEFAULT NULL,
                            run_at timestamptz DEFAULT NULL, max_attempts integer DEFAULT NULL,
                            timeout interval DEFAULT NULL)
RETURNS boolean
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  found_state pgtq.task_state;
  found_task  text;
  found_queue text;
  live        boolean := true;
  start_at    timestamptz;
BEGIN
  IF update.id IS NULL THEN
    RAISE EXCEPTION 'pgtq.update: id must not be NULL' USING ERRCODE = 'null_value_not_allowed';
  END IF;
  SELECT l.state, l.task, l.queue INTO found_state, found_task, found_queue
    FROM pgtq.live_tasks l WHERE l.id = update.id FOR UPDATE;
  IF NOT FOUND THEN
    live := false;
    SELECT f.state, f.task INTO found_state, found_task
      FROM pgtq.finished_tasks f WHERE f.id = update.id FOR UPDATE;
    IF NOT FOUND THEN
      RETURN false;
    END IF;
  END IF;
  IF found_state IN ('running', 'succeeded') THEN
    RAISE EXCEPTION 'pgtq.update: task % is %: only a queued, scheduled, failed or cancelled task can change',
      update.id, found_state USING ERRCODE = 'object_not_in_prerequisite_state';
  END IF;
  PERFORM pgtq.check_task(found_task, coalesce(update.args, '[]'), coalesce(update.priority, 0),
                          coalesce(update.max_attempts, 5));
  PERFORM pgtq.check_timeout('pgtq.update: timeout', update.timeout);
  IF update.run_at IS NOT NULL THEN
    IF NOT live THEN
      RAISE EXCEPTION 'pgtq.update: run_at applies to a queued or scheduled task; task % is %: pgtq.retry(id, run_at) brings it back at a time',
        update.id, found_state USING ERRCODE = 'object_not_in_prerequisite_state';
    END IF;
    start_at := pgtq.start_time('pgtq.update: ', update.run_at, NULL);
  END IF;
  IF NOT live THEN
    UPDATE pgtq.finished_tasks f
       SET args = coalesce(update.args, f.args), priority = coalesce(update.priority, f.priority),
           max_attempts = coalesce(update.max_attempts, f.max_attempts),
           timeout = coalesce(update.timeout, f.timeout)
     WHERE f.id = update.id;
    RETURN true;
  END IF;
  UPDATE pgtq.live_tasks l
     SET args = coalesce(update.args, l.args), priority = coalesce(update.priority, l.priority),
         max_attempts = coalesce(update.max_attempts, l.max_attempts),
         timeout = coalesce(update.timeout, l.timeout),
         run_at = coalesce(start_at, l.run_at),
         state = CASE WHEN start_at IS NULL THEN l.state
                      WHEN start_at <= now() THEN 'queued'
                      ELSE 'scheduled' END::pgtq.task_state
   WHERE l.id = update.id;
  IF start_at IS NOT NULL THEN
    IF start_at <= now() THEN
      PERFORM pgtq.wake_queue(found_queue);
    ELSE
      PERFORM pgtq.wake_schedulers(start_at);
    END IF;
  END IF;
  RETURN true;
END $$;
COMMENT ON FUNCTION pgtq.update(bigint, jsonb, integer, timestamptz, integer, interval) IS
'Changes a queued, scheduled, failed or cancelled task: args, priority, max_attempts, timeout (push''s rules), and run_at of a queued or scheduled one (it becomes queued or scheduled by it). NULL: unchanged. False: unknown. Errors: 22004 NULL id, 22023 bad value, 54000 args too large or deep, 55000 the task is running or succeeded, or run_at for a finished task.';

