-- Variants of pgtq's push path, in a scratch schema, to price each part of it.
DROP SCHEMA IF EXISTS bench_exp CASCADE;
CREATE SCHEMA bench_exp;

-- pgtq.push exactly, less the pg_notify: what the NOTIFY costs at commit.
CREATE FUNCTION bench_exp.push_quiet(queue text, task text, args jsonb DEFAULT '[]')
RETURNS bigint LANGUAGE plpgsql AS $$
DECLARE
  start_at timestamptz := now();
  new_id bigint;
BEGIN
  PERFORM pgtq.check_name('queue', push_quiet.queue);
  PERFORM pgtq.check_task(push_quiet.task, push_quiet.args, 0, 5);
  INSERT INTO pgtq.live_tasks (queue, task, args, state, priority, run_at, max_attempts)
  VALUES (push_quiet.queue, push_quiet.task, push_quiet.args, 'queued', 0, start_at, 5)
  RETURNING id INTO new_id;
  RETURN new_id;
END $$;

-- The same table with pgtq's per-task checks as CHECK constraints (evaluated in C, no
-- plpgsql call per row), fed by arrays instead of a JSON document.
CREATE TABLE bench_exp.live_tasks (LIKE pgtq.live_tasks INCLUDING ALL);
ALTER TABLE bench_exp.live_tasks
  ADD CHECK (task ~ '^[A-Za-z0-9_.:-]{1,128}$'),
  ADD CHECK (jsonb_typeof(args) IN ('array', 'object')),
  ADD CHECK (pg_column_size(args) <= 1048576),
  ADD CHECK (priority BETWEEN -32768 AND 32767),
  ADD CHECK (max_attempts BETWEEN 1 AND 1000);

CREATE FUNCTION bench_exp.push_many_arrays(queue text, tasks text[], args jsonb[])
RETURNS SETOF bigint LANGUAGE plpgsql AS $$
DECLARE
  ids bigint[];
BEGIN
  PERFORM pgtq.check_name('queue', push_many_arrays.queue);
  WITH inserted AS (
    INSERT INTO bench_exp.live_tasks (queue, task, args, state, priority, run_at, max_attempts)
    SELECT push_many_arrays.queue, u.t, u.a, 'queued', 0, now(), 5
      FROM unnest(tasks, args) WITH ORDINALITY AS u(t, a, ord) ORDER BY u.ord
    RETURNING id)
  SELECT array_agg(id ORDER BY id) INTO ids FROM inserted;
  PERFORM pg_notify('pgtq_wakeup', push_many_arrays.queue);
  RETURN QUERY SELECT unnest(ids);
END $$;
