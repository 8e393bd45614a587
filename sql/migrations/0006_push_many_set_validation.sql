-- Faster bulk pushes, and an args size check that compression cannot fool.
--
-- push_many validated each task with a call of the plpgsql function check_task, which cost
-- as much as inserting the row. It now checks every row with plain expressions and calls
-- check_task only for a row that fails them, to raise the same precise error as before:
-- 1,000-task pushes run about 1.3x as fast (docs/benchmarks.md).
--
-- check_task measured args with pg_column_size, which is the compressed size of a value
-- read from a table column: a compressible document over the limit got through. A
-- compressed value is now always measured as text.

CREATE OR REPLACE FUNCTION pgtq.check_task(task text, args jsonb, priority integer,
                                           max_attempts integer)
RETURNS boolean
LANGUAGE plpgsql IMMUTABLE AS $$
BEGIN
  PERFORM pgtq.check_name('task', task);
  IF args IS NULL OR jsonb_typeof(args) NOT IN ('array', 'object') THEN
    RAISE EXCEPTION 'pgtq: args of task "%" must be a JSON array or object, not %',
      task, coalesce(jsonb_typeof(args), 'NULL')
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  -- An uncompressed value's text form is at most 6 times its stored size (a control
  -- character is 1 byte stored, 6 as text), so only near the limit is the text worth making.
  IF (pg_column_size(args) > 174762 OR pg_column_compression(args) IS NOT NULL)
     AND octet_length(args::text) > 1048576 THEN
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

CREATE OR REPLACE FUNCTION pgtq.push_many(queue text, tasks jsonb) RETURNS SETOF bigint
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
    -- The same rules as check_task, as expressions (a NULL makes the CASE fall through).
    -- The name pattern has no {1,128} bound: PostgreSQL's regex engine unrolls bounded
    -- repetitions, which made the match 6 times slower than this one plus length().
    SELECT s.* FROM spec s
     WHERE CASE WHEN s.task ~ '^[A-Za-z0-9_.:-]+$' AND length(s.task) <= 128
                 AND jsonb_typeof(s.args) IN ('array', 'object')
                 AND pg_column_size(s.args) <= 174762
                 AND pg_column_compression(s.args) IS NULL
                 AND s.priority BETWEEN -32768 AND 32767
                 AND s.max_attempts BETWEEN 1 AND 1000
                THEN true
                ELSE pgtq.check_task(s.task, s.args, s.priority, s.max_attempts) END
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
