-- Pushing tasks: pgtq.push (one task) and pgtq.push_many (many tasks, one round trip).
--
-- Both run inside the caller's transaction: if it rolls back, the task never existed and
-- no worker saw it, because NOTIFY is delivered only at commit.
--
-- Limits (README, "Limits"):
--   queue and task names  1 to 128 characters from [A-Za-z0-9_.:-]
--   args                  a JSON array or object, at most 1 MiB as text
--   priority              -32768 .. 32767, smaller runs first
--   max_attempts          1 .. 1000, default 5

CREATE FUNCTION pgtq.check_name(kind text, name text) RETURNS void
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
  IF name IS NULL OR name = '' THEN
    RAISE EXCEPTION 'pgtq: % name is empty', kind
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF length(name) > 128 THEN
    RAISE EXCEPTION 'pgtq: % name is % characters long, the limit is 128', kind, length(name)
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF name !~ '^[A-Za-z0-9_.:-]+$' THEN
    RAISE EXCEPTION 'pgtq: % name "%" has characters outside [A-Za-z0-9_.:-]', kind, name
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
END $$;

-- Returns true or raises, so that it can stand in a WHERE clause.
CREATE FUNCTION pgtq.check_task(task text, args jsonb, priority integer, max_attempts integer)
RETURNS boolean
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
  PERFORM pgtq.check_name('task', task);
  IF args IS NULL OR jsonb_typeof(args) NOT IN ('array', 'object') THEN
    RAISE EXCEPTION 'pgtq: args of task "%" must be a JSON array or object, not %',
      task, coalesce(jsonb_typeof(args), 'NULL')
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  -- pg_column_size is cheap, and the text form is at most 6 times longer (a control
  -- character is 1 byte stored, 6 as text); only near the limit is the text worth making.
  IF pg_column_size(args) > 174762 AND octet_length(args::text) > 1048576 THEN
    RAISE EXCEPTION 'pgtq: args of task "%" are % bytes as JSON text, the limit is 1048576',
      task, octet_length(args::text)
      USING ERRCODE = 'program_limit_exceeded';
  END IF;
  IF priority IS NULL OR priority NOT BETWEEN -32768 AND 32767 THEN
    RAISE EXCEPTION 'pgtq: priority % of task "%" is outside -32768..32767', priority, task
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF max_attempts IS NULL OR max_attempts NOT BETWEEN 1 AND 1000 THEN
    RAISE EXCEPTION 'pgtq: max_attempts % of task "%" is outside 1..1000', max_attempts, task
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  RETURN true;
END $$;

-- Returns the new task's id. run_at and delay add up: run_at defaults to now().
CREATE FUNCTION pgtq.push(
  queue        text,
  task         text,
  args         jsonb DEFAULT '[]',
  run_at       timestamptz DEFAULT NULL,
  delay        interval DEFAULT NULL,
  priority     integer DEFAULT 0,
  max_attempts integer DEFAULT 5
) RETURNS bigint
LANGUAGE plpgsql AS $$
DECLARE
  start_at timestamptz := coalesce(push.run_at, now()) + coalesce(push.delay, interval '0');
  due      boolean := start_at <= now();
  new_id   bigint;
BEGIN
  PERFORM pgtq.check_name('queue', push.queue);
  PERFORM pgtq.check_task(push.task, push.args, push.priority, push.max_attempts);
  INSERT INTO pgtq.live_tasks (queue, task, args, state, priority, run_at, max_attempts)
  VALUES (push.queue, push.task, push.args,
          CASE WHEN due THEN 'queued' ELSE 'scheduled' END::pgtq.task_state,
          push.priority, start_at, push.max_attempts)
  RETURNING id INTO new_id;
  -- Identical notifications in one transaction are folded into one by PostgreSQL, so a
  -- transaction pushing many tasks wakes each listener once. A delayed task wakes the
  -- schedulers instead, so that they can shorten their sleep.
  IF due THEN
    PERFORM pg_notify('pgtq_wakeup', push.queue);
  ELSE
    PERFORM pg_notify('pgtq_scheduled', '');
  END IF;
  RETURN new_id;
END $$;

-- tasks: a JSON array of objects {"task": …, "args": …, "priority": …, "run_at": …,
-- "delay": …, "max_attempts": …}; only "task" is required. Returns the new ids in order.
CREATE FUNCTION pgtq.push_many(queue text, tasks jsonb) RETURNS SETOF bigint
LANGUAGE plpgsql AS $$
DECLARE
  bad       record;
  ids       bigint[];
  any_due   boolean;
  any_later boolean;
BEGIN
  PERFORM pgtq.check_name('queue', push_many.queue);
  IF tasks IS NULL OR jsonb_typeof(tasks) <> 'array' THEN
    RAISE EXCEPTION 'pgtq: push_many takes a JSON array of task objects, not %',
      coalesce(jsonb_typeof(tasks), 'NULL')
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  SELECT ord, elem INTO bad FROM jsonb_array_elements(tasks) WITH ORDINALITY AS e(elem, ord)
   WHERE jsonb_typeof(elem) <> 'object' LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION 'pgtq: push_many element % is not a JSON object', bad.ord
      USING ERRCODE = 'invalid_parameter_value';
  END IF;

  WITH spec AS (
    SELECT e.ord,
           e.elem->>'task' AS task,
           coalesce(e.elem->'args', '[]'::jsonb) AS args,
           coalesce((e.elem->>'priority')::integer, 0) AS priority,
           coalesce((e.elem->>'max_attempts')::integer, 5) AS max_attempts,
           coalesce((e.elem->>'run_at')::timestamptz, now())
             + coalesce((e.elem->>'delay')::interval, interval '0') AS run_at
      FROM jsonb_array_elements(tasks) WITH ORDINALITY AS e(elem, ord)
  ), checked AS (
    SELECT s.* FROM spec s WHERE pgtq.check_task(s.task, s.args, s.priority, s.max_attempts)
  ), inserted AS (
    INSERT INTO pgtq.live_tasks (queue, task, args, state, priority, run_at, max_attempts)
    SELECT push_many.queue, c.task, c.args,
           CASE WHEN c.run_at <= now() THEN 'queued' ELSE 'scheduled' END::pgtq.task_state,
           c.priority, c.run_at, c.max_attempts
      FROM checked c ORDER BY c.ord
    RETURNING id, state
  )
  SELECT array_agg(i.id ORDER BY i.id), bool_or(i.state = 'queued'), bool_or(i.state = 'scheduled')
    INTO ids, any_due, any_later FROM inserted i;
  -- As in push: only due tasks wake the queue's workers, only delayed ones the schedulers.
  IF any_due THEN
    PERFORM pg_notify('pgtq_wakeup', push_many.queue);
  END IF;
  IF any_later THEN
    PERFORM pg_notify('pgtq_scheduled', '');
  END IF;
  RETURN QUERY SELECT unnest(ids);
END $$;
