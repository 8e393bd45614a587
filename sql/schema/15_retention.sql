-- Retention: how long finished tasks are kept, per queue and end state, applied by pgtqd.
--
-- The rules are rows of pgtq.retention (01_tables.sql). A queue's own rule for an end state
-- wins; a queue without one follows the default (queue NULL); with neither, its tasks stay
-- until pgtq.prune or pgtq.delete_all removes them. pgtqd's scheduler calls
-- pgtq.apply_retention every few seconds, and again at its next tick while a call finds a
-- full batch: old history goes in bounded batches, never in one long DELETE that would hold
-- locks and write WAL in one burst.

-- Whether keep is a retention pgtq.set_retention accepts: 0 to 100 years on the calendar, as
-- a delay, and no part of it negative ('1 mon -29 days' is 1 to 3 days in most months and
-- reaches past now in February; '1 day -1 hour' past now on the night clocks go back).
CREATE FUNCTION pgtq.keep_ok(keep interval) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
  SELECT pgtq.delay_ok(keep)
         AND extract(year FROM keep) * 12 + extract(month FROM keep) >= 0
         AND extract(day FROM keep) >= 0
         AND keep - date_trunc('day', keep) >= interval '0'
$$;
COMMENT ON FUNCTION pgtq.keep_ok(interval) IS
'Whether keep is a retention pgtq.set_retention accepts: 0 to 100 years, no part of it negative. NULL for NULL. Errors: none.';

-- Keeps queue's tasks that ended in state for keep (0 to 100 years) after they ended: older
-- ones are deleted by the next passes of pgtq.apply_retention. queue NULL sets the default of
-- every queue without a rule of its own; state NULL sets all three end states; keep NULL keeps
-- them until pruned (for a queue: whatever the default says).
CREATE FUNCTION pgtq.set_retention(queue text, state text, keep interval)
RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF set_retention.queue IS NOT NULL THEN
    PERFORM pgtq.check_name('queue', set_retention.queue);
  END IF;
  IF set_retention.state NOT IN ('succeeded', 'failed', 'cancelled') THEN
    RAISE EXCEPTION 'pgtq.set_retention: state must be succeeded, failed or cancelled (NULL: all '
      'three), got %', set_retention.state USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF set_retention.keep IS NOT NULL AND NOT pgtq.keep_ok(set_retention.keep) THEN
    RAISE EXCEPTION 'pgtq.set_retention: keep must be 0 to 100 years with no negative part '
      '(NULL: until pruned), got %', set_retention.keep USING ERRCODE = 'invalid_parameter_value';
  END IF;
  INSERT INTO pgtq.retention AS r (queue, state, keep)
  SELECT set_retention.queue, s.state::pgtq.task_state, set_retention.keep
    FROM unnest(CASE WHEN set_retention.state IS NULL
                     THEN ARRAY['succeeded', 'failed', 'cancelled']
                     ELSE ARRAY[set_retention.state] END) AS s(state)
  ON CONFLICT ON CONSTRAINT retention_queue_state
  DO UPDATE SET keep = excluded.keep, changed_at = now();
END $$;
COMMENT ON FUNCTION pgtq.set_retention(text, text, interval) IS
'Keeps queue''s tasks that ended in state for keep (0..100 years) after they ended; pgtqd deletes older ones within seconds, in batches. queue NULL: the default of queues without their own rule; state NULL: succeeded, failed and cancelled; keep NULL: until pruned. Errors: 22023 bad queue name, state (not an end state) or keep.';

-- Removes queue's own rule for state (NULL: all three), so that the default applies to it
-- again; with queue NULL, removes the default (tasks then stay until pruned). Returns how many
-- rules it removed.
CREATE FUNCTION pgtq.reset_retention(queue text, state text DEFAULT NULL) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  removed integer;
BEGIN
  IF reset_retention.queue IS NOT NULL THEN
    PERFORM pgtq.check_name('queue', reset_retention.queue);
  END IF;
  IF reset_retention.state NOT IN ('succeeded', 'failed', 'cancelled') THEN
    RAISE EXCEPTION 'pgtq.reset_retention: state must be succeeded, failed or cancelled (NULL: '
      'all three), got %', reset_retention.state USING ERRCODE = 'invalid_parameter_value';
  END IF;
  DELETE FROM pgtq.retention r
   WHERE r.queue IS NOT DISTINCT FROM reset_retention.queue
     AND (reset_retention.state IS NULL OR r.state::text = reset_retention.state);
  GET DIAGNOSTICS removed = ROW_COUNT;
  RETURN removed;
END $$;
COMMENT ON FUNCTION pgtq.reset_retention(text, text) IS
'Removes queue''s own retention rule for state (NULL: all three end states) so the default applies again; queue NULL removes the default (tasks then stay until pruned). Returns how many rules it removed. Errors: 22023 bad queue name or state.';

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

-- Removes finished tasks past their retention (17_history.sql says how and when): deletes at
-- most max_count (1..100000) of the tasks that the drop of their partition would keep more
-- than a quarter of their retention (at most a day) past it, oldest first within each
-- partition, queue and state; then drops every partition whose tasks are all past their
-- retention, back to back (the first drop locks the history until the transaction ends); and
-- last makes the history partitions of today and the next three days. Returns how many tasks
-- it removed. One caller at a time does the work (pgtq's advisory lock class 1885828212, held
-- to the end of the transaction); the others return 0 at once. When a drop's lock is not
-- granted within 200 ms (a long reader of the history), the partitions that were to go have
-- their tasks past retention deleted instead, within max_count. With dry_run: how many tasks
-- are past their retention now, all of them, changing and locking nothing.
CREATE FUNCTION pgtq.apply_retention(max_count integer DEFAULT 10000,
                                     dry_run boolean DEFAULT false) RETURNS bigint
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
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
  -- The rate windows of fairness keys (16_fairness.sql) that have counted nothing for an hour:
  -- not at once, as a claim whose turn began earlier may still count them, and not in tick,
  -- which pgtq.pop runs in the caller's transaction (its row locks would stop claims). Also
  -- those of a queue without a rate limit per key.
  DELETE FROM pgtq.key_rate_windows w
   WHERE (w.queue, w.fairness_key) IN (
           SELECT g.queue, g.fairness_key FROM pgtq.key_rate_windows g
             LEFT JOIN pgtq.queues q ON q.queue = g.queue
            WHERE q.key_rate_limit IS NULL
               OR g.starts[cardinality(g.starts)] < now_at - q.key_rate_period - interval '1 hour'
            LIMIT max_count
              FOR UPDATE OF g SKIP LOCKED);
  -- Last: making a partition locks the default partition until this transaction ends.
  BEGIN
    PERFORM pgtq.add_history_partitions();
  EXCEPTION WHEN insufficient_privilege THEN
    NULL; -- a role that does not own the history: tasks of days without one go to the default
  END;
  RETURN removed;
END $$;
COMMENT ON FUNCTION pgtq.apply_retention(integer, boolean) IS
'Removes finished tasks past their retention (pgtq.retention): makes the history partitions of today and the next 3 days, deletes at most max_count (1..100000, default 10000) of the others past it, and drops every past day''s partition whose tasks are all past their retention; returns how many tasks it removed. Also removes up to max_count rate windows of fairness keys that counted nothing for an hour (pgtq.key_rate_windows). A task goes at most a quarter of its retention (and at most a day) after its retention ends. pgtqd calls it; one caller at a time works (advisory lock 1885828212, 0), others get 0. dry_run: how many are past their retention now (all), changing nothing. Errors: 22004 NULL, 22023 max_count out of range.';
