-- The history's partitions: pgtq.finished_tasks is partitioned by finished_at (01_tables.sql),
-- so that old history goes a day at a time, with a DROP TABLE that writes next to no WAL and
-- leaves no dead rows behind, instead of a DELETE of each of its rows.
--
--   finished_tasks_pYYYYMMDD  the tasks that ended on that UTC day: [00:00 UTC, next 00:00 UTC)
--   finished_tasks_default    those of a day without a partition of its own
--   finished_tasks_legacy     the history written before migration 0029, up to the start of
--                             the UTC day it ran on, if there was any
--
-- pgtq.apply_retention (15_retention.sql; pgtqd: every 10 s) makes the partitions of today and
-- the next three days and drops each past partition whose tasks are all past their
-- retention. A task is kept at most a quarter of its retention, and at most a day, past it:
-- those that waiting for their partition's drop would keep longer (a retention of an hour, or
-- a queue kept for a day sharing its partition with one kept for a month) are deleted in
-- batches as they expire. A retention of 4 days or more thus goes a day at a time by DROP.
-- pgtq.prune drops the partitions that end before its time and deletes the rest.
--
-- Locks: making a partition takes SHARE UPDATE EXCLUSIVE on finished_tasks (outcomes go on)
-- and ACCESS EXCLUSIVE on the default partition while it checks that none of its rows belong
-- to the new day; dropping one takes ACCESS EXCLUSIVE on finished_tasks. Both are held until
-- the caller commits, so pgtq.apply_retention does its deletes and counts first, its drops
-- back to back, and makes partitions last. Both wait at most lock_timeout 200 ms, so that a
-- long reader of the history (a report over pgtq.tasks) holds back neither outcomes nor the
-- scheduler: the next pass tries again, and meanwhile the tasks past their retention are
-- deleted row by row.
-- Both need to own the history's tables. They run as the functions' owner (SECURITY DEFINER),
-- which is the role that ran the migrations and owns the tables too; should the tables belong
-- to another role, retention is applied row by row, and the tasks of days without a
-- partition go to the default one.

-- Makes the daily history partitions of days first_day .. first_day + days - 1 (first_day NULL:
-- today, UTC) that do not exist yet; returns how many it made. A day whose tasks went to the
-- default partition meanwhile, or that another partition covers (the legacy one), is left
-- without one. pgtq.apply_retention calls it for today and the next three days; call it for
-- past days before loading old history into finished_tasks.
CREATE FUNCTION pgtq.add_history_partitions(first_day date DEFAULT NULL, days integer DEFAULT 4)
RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp SET lock_timeout = '200ms' AS $$
DECLARE
  first date := coalesce(first_day, (now() AT TIME ZONE 'UTC')::date);
  made  integer := 0;
  name  text;
  lo    text; -- bounds as text in ISO form with their offset: no session setting changes them
  hi    text;
BEGIN
  IF days IS NULL THEN
    RAISE EXCEPTION 'pgtq.add_history_partitions: days must not be NULL'
      USING ERRCODE = 'null_value_not_allowed';
  END IF;
  IF days NOT BETWEEN 1 AND 366 THEN
    RAISE EXCEPTION 'pgtq.add_history_partitions: days must be 1..366, got %', days
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF first NOT BETWEEN date '2000-01-01' AND date '9999-01-01' THEN
    RAISE EXCEPTION 'pgtq.add_history_partitions: first_day must be 2000-01-01..9999-01-01, got %',
      first USING ERRCODE = 'invalid_parameter_value';
  END IF;
  -- Days far ahead would only add partitions for every lookup by id to probe.
  IF first + days - 1 > (now() AT TIME ZONE 'UTC')::date + 366 THEN
    RAISE EXCEPTION 'pgtq.add_history_partitions: first_day + days must not go past a year from '
      'today, got % + %', first, days USING ERRCODE = 'invalid_parameter_value';
  END IF;
  FOR d IN 0 .. days - 1 LOOP
    name := 'finished_tasks_p' || to_char(first + d, 'YYYYMMDD');
    CONTINUE WHEN to_regclass('pgtq.' || name) IS NOT NULL;
    lo := to_char(first + d, 'YYYY-MM-DD') || ' 00:00:00+00';
    hi := to_char(first + d + 1, 'YYYY-MM-DD') || ' 00:00:00+00';
    -- Attaching would fail on them: the day's tasks stay where they are.
    CONTINUE WHEN EXISTS (SELECT 1 FROM pgtq.finished_tasks_default f
                           WHERE f.finished_at >= lo::timestamptz
                             AND f.finished_at < hi::timestamptz);
    BEGIN
      -- Made apart and attached: CREATE TABLE ... PARTITION OF would lock out every outcome.
      EXECUTE format('CREATE TABLE pgtq.%I (LIKE pgtq.finished_tasks INCLUDING CONSTRAINTS)',
                     name);
      EXECUTE format('ALTER TABLE pgtq.finished_tasks ATTACH PARTITION pgtq.%I '
                     'FOR VALUES FROM (%L) TO (%L)', name, lo, hi);
      made := made + 1;
    EXCEPTION
      WHEN invalid_object_definition THEN NULL; -- another partition covers the day
      WHEN check_violation THEN NULL;           -- a task of the day reached the default since
      WHEN lock_not_available THEN NULL;        -- a long reader of the default: next pass
    END;
  END LOOP;
  RETURN made;
END $$;
COMMENT ON FUNCTION pgtq.add_history_partitions(date, integer) IS
'Makes the daily partitions of pgtq.finished_tasks (finished_tasks_pYYYYMMDD, UTC days) for days first_day (NULL: today, UTC) .. first_day + days - 1 that do not exist yet; returns how many it made. A day already covered, or whose tasks went to finished_tasks_default, is skipped. pgtqd makes today''s and the next three days'' through pgtq.apply_retention. Errors: 22004 NULL days, 22023 days not 1..366, first_day outside 2000-01-01..9999-01-01, or days past a year from today.';

-- The retention of queue's tasks that ended in state: the queue's own rule, else the default;
-- NULL when they are kept until pruned.
CREATE FUNCTION pgtq.retention_keep(queue text, state pgtq.task_state) RETURNS interval
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT r.keep FROM pgtq.retention r
   WHERE (r.queue = retention_keep.queue OR r.queue IS NULL) AND r.state = retention_keep.state
   ORDER BY r.queue NULLS LAST LIMIT 1
$$;

-- Where history partition part ends: its upper bound, or infinity for the default partition
-- and one without an upper bound; NULL for a table that is no partition. pg_get_expr prints
-- the bound in the DateStyle pinned here:
-- FOR VALUES FROM (...) TO ('2026-12-03 00:00:00+00'), or with MAXVALUE, or DEFAULT.
CREATE FUNCTION pgtq.history_partition_end(part regclass) RETURNS timestamptz
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp SET DateStyle = 'ISO, YMD' AS $$
  SELECT coalesce((regexp_match(pg_get_expr(c.relpartbound, c.oid),
                                ' TO \(''([^'']*)''\)$'))[1], 'infinity')::timestamptz
    FROM pg_class c WHERE c.oid = part AND c.relispartition
$$;

-- Where history partition part starts: its lower bound, or -infinity for the default partition
-- and one without a lower bound (as history_partition_end reads it); NULL for no partition.
CREATE FUNCTION pgtq.history_partition_start(part regclass) RETURNS timestamptz
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp SET DateStyle = 'ISO, YMD' AS $$
  SELECT coalesce((regexp_match(pg_get_expr(c.relpartbound, c.oid),
                                '^FOR VALUES FROM \(''([^'']*)''\) TO '))[1],
                  '-infinity')::timestamptz
    FROM pg_class c WHERE c.oid = part AND c.relispartition
$$;

-- The queues and end states of history partition part, each with its retention (NULL: kept
-- until pruned) and the end of its latest task there: a loose scan of the partition's
-- finished_tasks_retention index, one probe per queue and end state. It goes from the newest
-- end down, so that each probe lands on a pair's latest task, and not on the dead entries
-- that retention's deletes of its oldest ones leave until a vacuum.
CREATE FUNCTION pgtq.history_partition_pairs(part regclass)
RETURNS TABLE (queue text, state pgtq.task_state, keep interval, last_end timestamptz)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF part IS NULL THEN
    RETURN;
  END IF;
  RETURN QUERY EXECUTE format($q$
    WITH RECURSIVE pairs(queue, state, last_end) AS (
      (SELECT f.queue, f.state, f.finished_at FROM %1$s f
        ORDER BY f.queue DESC, f.state DESC, f.finished_at DESC LIMIT 1)
      UNION ALL
      SELECT n.queue, n.state, n.finished_at FROM pairs p
       CROSS JOIN LATERAL (SELECT f.queue, f.state, f.finished_at FROM %1$s f
                            WHERE (f.queue, f.state) < (p.queue, p.state)
                            ORDER BY f.queue DESC, f.state DESC, f.finished_at DESC
                            LIMIT 1) n
    )
    SELECT p.queue, p.state, pgtq.retention_keep(p.queue, p.state), p.last_end
      FROM pairs p$q$, part);
END $$;

-- When every task in history partition part is past its retention: the latest end of a task
-- there plus its retention, and no sooner than the partition's end; infinity when one of its
-- tasks is kept until pruned, and for the default partition.
CREATE FUNCTION pgtq.history_partition_expiry(part regclass) RETURNS timestamptz
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT CASE WHEN part = 'pgtq.finished_tasks_default'::regclass OR bool_or(p.keep IS NULL)
              THEN 'infinity'::timestamptz
              ELSE greatest(pgtq.history_partition_end(part), max(p.last_end + p.keep)) END
    FROM pgtq.history_partition_pairs(part) p
$$;

-- Drops history partition part; returns whether it did. It does not when its locks are not
-- granted within lock_timeout (a long reader of the history, say), or when (with due) the
-- partition's expiry, read again under the locks, is after due; without due the caller vouches
-- that every task in it may go. The lock it takes on finished_tasks is held until the caller
-- commits: count what the partition holds before, and commit soon after. Errors: 22004 NULL
-- part, 22023 part not a partition of finished_tasks or the default one.
CREATE FUNCTION pgtq.drop_history_partition(part regclass, due timestamptz) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER
SET search_path = pg_catalog, pg_temp SET lock_timeout = '200ms' AS $$
BEGIN
  IF part IS NULL THEN
    RAISE EXCEPTION 'pgtq.drop_history_partition: part must not be NULL'
      USING ERRCODE = 'null_value_not_allowed';
  END IF;
  IF part = 'pgtq.finished_tasks_default'::regclass
     OR NOT EXISTS (SELECT 1 FROM pg_inherits i
                     WHERE i.inhrelid = part AND i.inhparent = 'pgtq.finished_tasks'::regclass) THEN
    RAISE EXCEPTION 'pgtq.drop_history_partition: part must be a partition of '
      'pgtq.finished_tasks other than the default one, got %', part
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  BEGIN
    -- The parent first, as an outcome locks it before the partition it writes; ONLY, as the
    -- other partitions need no lock of their own once nobody can reach them through it.
    LOCK TABLE ONLY pgtq.finished_tasks IN ACCESS EXCLUSIVE MODE;
    EXECUTE format('LOCK TABLE %s IN ACCESS EXCLUSIVE MODE', part);
    IF due IS NOT NULL AND pgtq.history_partition_expiry(part) > due THEN
      RETURN false;
    END IF;
    EXECUTE format('DROP TABLE %s', part);
  EXCEPTION WHEN lock_not_available OR insufficient_privilege THEN
    RETURN false;
  END;
  RETURN true;
END $$;
COMMENT ON FUNCTION pgtq.drop_history_partition(regclass, timestamptz) IS
'Drops history partition part (not the default one) with every task in it, and returns true; false when its locks are not granted within 200 ms or, with due, when a task in it is not past its retention by due. Without due nothing is checked: what pgtq.prune uses. Errors: 22004 NULL part, 22023 part not a dated partition of pgtq.finished_tasks.';

-- The partitions of the history, oldest first (the default partition last).
CREATE FUNCTION pgtq.history_partitions() RETURNS SETOF regclass
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT i.inhrelid::regclass FROM pg_inherits i
   WHERE i.inhparent = 'pgtq.finished_tasks'::regclass
   ORDER BY pgtq.history_partition_end(i.inhrelid::regclass), i.inhrelid
$$;

SELECT pgtq.add_history_partitions();
