-- The history partitioned by finish time (sql/schema/17_history.sql): finished_tasks becomes a
-- table partitioned by finished_at, one partition per UTC day, so that retention and prune drop
-- a past day's partition whole instead of deleting each of its rows. Its primary key becomes
-- (id, finished_at), as a partitioned table's unique keys must hold the partition key.
--
-- The existing history is kept, not copied: the table is renamed finished_tasks_legacy and
-- attached as the partition of everything before the start of today (UTC); the tasks that
-- ended today or later are moved into the new partitions. Attaching reads the whole history
-- once to check it and builds the new primary key's index on it, about as long as building
-- one index over it: outcomes wait meanwhile. On a large history, prune first. An empty
-- history is dropped instead. The legacy partition goes like any other once all its tasks are past their
-- retention, or with a pgtq.prune after the day it ends.
--
-- finished_row returns the history's row type, which went with the rename: it is made again.
-- The views are made again with the same text, so that they read the new table.

ALTER TABLE pgtq.finished_tasks RENAME TO finished_tasks_legacy;
ALTER TABLE pgtq.finished_tasks_legacy
  RENAME CONSTRAINT finished_tasks_pkey TO finished_tasks_legacy_pkey;
ALTER INDEX pgtq.finished_tasks_finished_at RENAME TO finished_tasks_legacy_finished_at;
ALTER INDEX pgtq.finished_tasks_unique RENAME TO finished_tasks_legacy_unique;
ALTER INDEX pgtq.finished_tasks_retention RENAME TO finished_tasks_legacy_retention;

CREATE TABLE pgtq.finished_tasks (
  id            bigint NOT NULL,
  queue         text NOT NULL,
  task          text NOT NULL,
  args          jsonb NOT NULL,
  state         pgtq.task_state NOT NULL,
  priority      integer NOT NULL,
  run_at        timestamptz NOT NULL,
  attempts      integer NOT NULL,
  max_attempts  integer NOT NULL,
  created_at    timestamptz NOT NULL,
  started_at    timestamptz,
  finished_at   timestamptz NOT NULL,
  locked_by     text,                           -- the worker that ran the last attempt
  result        jsonb,
  last_error    text,
  errors        jsonb NOT NULL,
  timeout       interval,
  unique_key    text,                           -- push's unique_key, kept for unique_states
  fairness_key  text,
  CONSTRAINT finished_tasks_pkey PRIMARY KEY (id, finished_at),
  CONSTRAINT finished_tasks_state CHECK (state IN ('succeeded', 'failed', 'cancelled'))
) PARTITION BY RANGE (finished_at);
-- Rows arrive in finishing order, so a BRIN index serves pruning by age at almost no cost.
CREATE INDEX finished_tasks_finished_at ON pgtq.finished_tasks USING brin (finished_at);
-- A unique push whose unique_states name finished states looks its key up here.
CREATE INDEX finished_tasks_unique ON pgtq.finished_tasks (queue, unique_key, finished_at)
  WHERE unique_key IS NOT NULL;
-- Retention (15_retention.sql) deletes a queue's tasks of one end state oldest first: a range
-- of this index, however much else the history keeps (BRIN would read every old block that
-- holds rows kept longer, at every pass). It also serves listings by queue and state.
CREATE INDEX finished_tasks_retention ON pgtq.finished_tasks (queue, state, finished_at);
-- Tasks that end on a day without a partition of its own (no pgtqd made it ahead) land here,
-- so that recording an outcome never fails for want of a partition; retention deletes them
-- row by row.
CREATE TABLE pgtq.finished_tasks_default PARTITION OF pgtq.finished_tasks DEFAULT;


DROP FUNCTION pgtq.finished_row(pgtq.live_tasks, pgtq.task_state, jsonb, text, boolean);
CREATE FUNCTION pgtq.finished_row(ended pgtq.live_tasks, state pgtq.task_state, result jsonb,
                                  last_error text, logged boolean)
RETURNS pgtq.finished_tasks
LANGUAGE sql VOLATILE PARALLEL SAFE
RETURN ROW((ended).id, (ended).queue, (ended).task, (ended).args, state, (ended).priority,
           (ended).run_at, (ended).attempts, (ended).max_attempts, (ended).created_at,
           (ended).started_at, clock_timestamp(), (ended).locked_by, result, last_error,
           CASE WHEN logged
                THEN CASE WHEN jsonb_typeof((ended).errors) = 'array'
                           AND jsonb_array_length((ended).errors) < 100
                          THEN (ended).errors ELSE pgtq.recent_errors((ended).errors) END
                     || jsonb_build_array(jsonb_build_object(
                          'attempt', (ended).attempts, 'at', clock_timestamp(),
                          'error', last_error))
                ELSE (ended).errors END,
           (ended).timeout, (ended).unique_key, (ended).fairness_key)::pgtq.finished_tasks;

CREATE OR REPLACE VIEW pgtq.tasks AS
  SELECT id, queue, task, args, state, priority, run_at, attempts, max_attempts,
         created_at, started_at, NULL::timestamptz AS finished_at, locked_by, locked_until,
         NULL::jsonb AS result, last_error, errors, timeout, unique_key, fairness_key
    FROM pgtq.live_tasks
  UNION ALL
  SELECT id, queue, task, args, state, priority, run_at, attempts, max_attempts,
         created_at, started_at, finished_at, locked_by, NULL::timestamptz AS locked_until,
         result, last_error, errors, timeout, unique_key, fairness_key
    FROM pgtq.finished_tasks;


CREATE OR REPLACE VIEW pgtq.queue_stats AS
  WITH live AS (
    SELECT l.queue,
           count(*) FILTER (WHERE l.state = 'queued') AS queued,
           count(*) FILTER (WHERE l.state = 'scheduled') AS scheduled,
           count(*) FILTER (WHERE l.state = 'running') AS running,
           min(l.run_at) FILTER (WHERE l.state = 'queued') AS oldest_queued_at,
           count(DISTINCT l.fairness_key) FILTER (WHERE l.state = 'queued') AS queued_keys
      FROM pgtq.live_tasks l GROUP BY l.queue
  ), recent AS (
    SELECT f.queue,
           count(*) FILTER (WHERE f.state = 'succeeded') AS succeeded,
           count(*) FILTER (WHERE f.state = 'failed') AS failed,
           count(*) FILTER (WHERE f.state = 'cancelled') AS cancelled
      FROM pgtq.finished_tasks f
     WHERE f.finished_at > now() - interval '1 hour'
     GROUP BY f.queue
  ), workers AS (
    SELECT w.queue, count(*) AS workers, sum(w.concurrency) AS worker_slots
      FROM pgtq.live_workers w GROUP BY w.queue
  ), names AS (
    SELECT live.queue FROM live
    UNION SELECT recent.queue FROM recent
    UNION SELECT q.queue FROM pgtq.queues q
    UNION SELECT workers.queue FROM workers
  )
  SELECT n.queue,
         coalesce(live.queued, 0) AS queued,
         coalesce(live.scheduled, 0) AS scheduled,
         coalesce(live.running, 0) AS running,
         greatest(now() - live.oldest_queued_at, interval '0') AS oldest_queued_age,
         coalesce(recent.succeeded, 0) AS succeeded_last_hour,
         coalesce(recent.failed, 0) AS failed_last_hour,
         coalesce(recent.cancelled, 0) AS cancelled_last_hour,
         coalesce(workers.workers, 0) AS workers,
         coalesce(workers.worker_slots, 0) AS worker_slots,
         coalesce(q.paused, false) AS paused,
         q.global_concurrency, q.rate_limit, q.rate_period,
         q.key_concurrency, coalesce(live.queued_keys, 0) AS queued_keys
    FROM names n
    LEFT JOIN live ON live.queue = n.queue
    LEFT JOIN recent ON recent.queue = n.queue
    LEFT JOIN workers ON workers.queue = n.queue
    LEFT JOIN pgtq.queues q ON q.queue = n.queue;

-- Makes the daily history partitions of days first_day .. first_day + days - 1 (first_day NULL:
-- today, UTC) that do not exist yet; returns how many it made. A day whose tasks went to the
-- default partition meanwhile, or that another partition covers (the legacy one), is left
-- without one. pgtq.apply_retention calls it for today and the next three days; call it for
-- past days before loading old history into finished_tasks.
CREATE FUNCTION pgtq.add_history_partitions(first_day date DEFAULT NULL, days integer DEFAULT 4)
RETURNS integer
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp SET lock_timeout = '200ms' AS $$
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
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp SET lock_timeout = '200ms' AS $$
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

CREATE OR REPLACE FUNCTION pgtq.prune(finished_before timestamptz) RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  removed bigint := 0;
  n       bigint;
  part    regclass;
  whole   regclass[];
  counts  bigint[] := '{}';
BEGIN
  IF finished_before IS NULL THEN
    RAISE EXCEPTION 'pgtq.prune: finished_before must not be NULL'
      USING ERRCODE = 'null_value_not_allowed';
  END IF;
  IF NOT isfinite(finished_before) OR finished_before > clock_timestamp() THEN
    RAISE EXCEPTION 'pgtq.prune: finished_before must be a finite time not after now(), got %',
      finished_before USING ERRCODE = 'invalid_parameter_value';
  END IF;
  -- After a retention pass under way, which may have listed a partition this drops.
  PERFORM pg_advisory_xact_lock(1885828212, 0);
  -- The days that go in part first, and the whole ones counted, all before the first drop:
  -- the lock that a drop takes on the history is held until the caller commits.
  FOR part IN SELECT h FROM pgtq.history_partitions() h
               WHERE pgtq.history_partition_end(h) > finished_before LOOP
    EXECUTE format('DELETE FROM %s f WHERE f.finished_at < $1', part) USING finished_before;
    GET DIAGNOSTICS n = ROW_COUNT;
    removed := removed + n;
  END LOOP;
  whole := ARRAY(SELECT h FROM pgtq.history_partitions() h
                  WHERE pgtq.history_partition_end(h) <= finished_before);
  FOREACH part IN ARRAY whole LOOP
    EXECUTE format('SELECT count(*) FROM %s', part) INTO n;
    counts := counts || n;
  END LOOP;
  FOR i IN 1 .. cardinality(whole) LOOP
    IF pgtq.drop_history_partition(whole[i], NULL) THEN
      removed := removed + counts[i];
    ELSE
      EXECUTE format('DELETE FROM %s', whole[i]);
      GET DIAGNOSTICS n = ROW_COUNT;
      removed := removed + n;
    END IF;
  END LOOP;
  RETURN removed;
END $$;
COMMENT ON FUNCTION pgtq.prune(timestamptz) IS
'Removes finished tasks that ended before finished_before (finite, not in the future), dropping the history partitions that end by then; returns how many. Errors: 22004 NULL, 22023 infinite or future.';

-- Deletes at most room tasks of history partition part that are past their retention and that
-- waiting for the partition's drop at expiry would keep more than a quarter of their retention
-- (at most a day) past it; returns how many. Oldest first per queue and end state: a range of
-- the partition's finished_tasks_retention index, then primary-key probes. The ids are a
-- subquery, not a parameter: planning the statement with an array of 10,000 ids in it would
-- cost more than the deletes. A cutoff before the partition's start finds nothing: skipped.
-- Rows another transaction has locked (a retry under way) are skipped.
CREATE FUNCTION pgtq.delete_expired(part regclass, expiry timestamptz, now_at timestamptz,
                                    room integer) RETURNS integer
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  starts  timestamptz := pgtq.history_partition_start(part);
  removed integer := 0;
  n       integer;
  cutoff  timestamptz;
  pair    record;
BEGIN
  FOR pair IN SELECT p.queue, p.state, p.keep FROM pgtq.history_partition_pairs(part) p
               WHERE p.keep IS NOT NULL LOOP
    EXIT WHEN removed >= room;
    cutoff := least(now_at - pair.keep,
                    expiry - least(interval '1 day', pair.keep / 4) - pair.keep);
    CONTINUE WHEN cutoff <= starts;
    EXECUTE format('DELETE FROM %1$s f WHERE f.id = ANY (ARRAY('
                   'SELECT o.id FROM %1$s o WHERE o.queue = $1 AND o.state = $2 '
                   'AND o.finished_at < $3 ORDER BY o.finished_at LIMIT $4 '
                   'FOR UPDATE SKIP LOCKED))', part)
      USING pair.queue, pair.state, cutoff, room - removed;
    GET DIAGNOSTICS n = ROW_COUNT;
    removed := removed + n;
  END LOOP;
  RETURN removed;
END $$;

CREATE OR REPLACE FUNCTION pgtq.apply_retention(max_count integer DEFAULT 10000,
                                     dry_run boolean DEFAULT false) RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  now_at  timestamptz := clock_timestamp();
  room    integer := max_count;
  removed bigint := 0;
  n       bigint;
  part    regclass;
  expiry  timestamptz;
  going   regclass[] := '{}';
  counts  bigint[] := '{}';
  dropped boolean := false;
BEGIN
  IF max_count IS NULL THEN
    RAISE EXCEPTION 'pgtq.apply_retention: max_count must not be NULL'
      USING ERRCODE = 'null_value_not_allowed';
  END IF;
  IF max_count NOT BETWEEN 1 AND 100000 THEN
    RAISE EXCEPTION 'pgtq.apply_retention: max_count must be between 1 and 100000, got %',
      max_count USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF dry_run IS NULL THEN
    RAISE EXCEPTION 'pgtq.apply_retention: dry_run must not be NULL'
      USING ERRCODE = 'null_value_not_allowed';
  END IF;
  IF dry_run THEN
    SELECT coalesce(sum((SELECT count(*) FROM pgtq.finished_tasks f
                          WHERE f.queue = r.queue AND f.state = r.state
                            AND f.finished_at < now_at - r.keep)), 0)
      INTO removed
      FROM (SELECT DISTINCT p.queue, p.state, p.keep
              FROM pgtq.history_partitions() h, pgtq.history_partition_pairs(h) p
             WHERE p.keep IS NOT NULL) r;
    RETURN removed;
  END IF;
  IF NOT pg_try_advisory_xact_lock(1885828212, 0) THEN
    RETURN 0;
  END IF;
  FOR part IN SELECT h FROM pgtq.history_partitions() h LOOP
    expiry := pgtq.history_partition_expiry(part);
    IF expiry <= now_at THEN
      EXECUTE format('SELECT count(*) FROM %s', part) INTO n; -- before any lock, not under it
      going := going || part;
      counts := counts || n;
    ELSIF room > 0 THEN
      n := pgtq.delete_expired(part, expiry, now_at, room);
      removed := removed + n;
      room := room - n;
    END IF;
  END LOOP;
  FOR i IN 1 .. cardinality(going) LOOP
    IF pgtq.drop_history_partition(going[i], now_at) THEN
      removed := removed + counts[i];
      dropped := true;
    ELSIF NOT dropped AND room > 0 THEN
      -- Not now (a long reader holds the history, or a rule changed): past their retention,
      -- its tasks go row by row meanwhile. The next partitions would wait as long: not tried,
      -- their tasks go row by row too.
      FOR k IN i .. cardinality(going) LOOP
        EXIT WHEN room = 0;
        n := pgtq.delete_expired(going[k], 'infinity', now_at, room);
        removed := removed + n;
        room := room - n;
      END LOOP;
      EXIT;
    END IF;
  END LOOP;
  -- Last: making a partition locks the default partition until this transaction ends.
  BEGIN
    PERFORM pgtq.add_history_partitions();
  EXCEPTION WHEN insufficient_privilege THEN
    NULL; -- a role that does not own the history: tasks of days without one go to the default
  END;
  RETURN removed;
END $$;
COMMENT ON FUNCTION pgtq.apply_retention(integer, boolean) IS
'Removes finished tasks past their retention (pgtq.retention): makes the history partitions of today and the next 3 days, deletes at most max_count (1..100000, default 10000) of the others past it, and drops every past day''s partition whose tasks are all past their retention; returns how many tasks it removed. A task goes at most a quarter of its retention (and at most a day) after its retention ends. pgtqd calls it; one caller at a time works (advisory lock 1885828212, 0), others get 0. dry_run: how many are past their retention now (all), changing nothing. Errors: 22004 NULL, 22023 max_count out of range.';

-- The existing history: today's tasks (and any later) move to the new partitions; the rest
-- stays where it is, as the partition of everything before today.
DO $$
DECLARE
  today date := (now() AT TIME ZONE 'UTC')::date;
  since text := to_char((now() AT TIME ZONE 'UTC')::date, 'YYYY-MM-DD') || ' 00:00:00+00';
  g     record;
BEGIN
  -- What was granted on the history (to a pgtqd role that is not its owner, say) is granted
  -- on the new one: access through it is checked there, not on its partitions.
  FOR g IN
    SELECT a.privilege_type, a.grantee, a.is_grantable
      FROM pg_class c, aclexplode(c.relacl) a
     WHERE c.oid = 'pgtq.finished_tasks_legacy'::regclass AND a.grantee <> c.relowner
  LOOP
    EXECUTE format('GRANT %s ON pgtq.finished_tasks TO %s%s', g.privilege_type,
                   CASE WHEN g.grantee = 0 THEN 'PUBLIC'
                        ELSE quote_ident(pg_get_userbyid(g.grantee)) END,
                   CASE WHEN g.is_grantable THEN ' WITH GRANT OPTION' ELSE '' END);
  END LOOP;
  PERFORM pgtq.add_history_partitions(today);
  WITH moved AS (
    DELETE FROM pgtq.finished_tasks_legacy f WHERE f.finished_at >= since::timestamptz
    RETURNING f.*
  )
  INSERT INTO pgtq.finished_tasks SELECT * FROM moved;
  IF NOT EXISTS (SELECT 1 FROM pgtq.finished_tasks_legacy) THEN
    DROP TABLE pgtq.finished_tasks_legacy;
  ELSE
    -- Its primary key on id alone goes: attaching builds the history's (id, finished_at).
    ALTER TABLE pgtq.finished_tasks_legacy DROP CONSTRAINT finished_tasks_legacy_pkey;
    EXECUTE format('ALTER TABLE pgtq.finished_tasks ATTACH PARTITION pgtq.finished_tasks_legacy '
                   'FOR VALUES FROM (MINVALUE) TO (%L)', since);
  END IF;
END $$;
