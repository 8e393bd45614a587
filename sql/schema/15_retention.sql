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
LANGUAGE sql STABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
  SELECT pgtq.delay_ok(keep)
         AND extract(year FROM keep) * 12 + extract(month FROM keep) >= 0
         AND extract(day FROM keep) >= 0
         AND keep - date_trunc('day', keep) >= interval '0'
$$;

-- Keeps queue's tasks that ended in state for keep (0 to 100 years) after they ended: older
-- ones are deleted by the next passes of pgtq.apply_retention. queue NULL sets the default of
-- every queue without a rule of its own; state NULL sets all three end states; keep NULL keeps
-- them until pruned (for a queue: whatever the default says).
CREATE FUNCTION pgtq.set_retention(queue text, state text, keep interval)
RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
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
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
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

-- Deletes at most max_count (1..100000) finished tasks that are past their retention, oldest
-- first within each queue and state (one rule's backlog may take a whole call); returns how
-- many. One caller at a time does the work (pgtq's advisory lock class 1885828212, held to
-- the end of the transaction); the others return 0 at once. Rows another transaction has
-- locked (a retry under way) are skipped until the next call. With dry_run: how many tasks
-- are past their retention now, all of them, deleting and locking nothing.
CREATE FUNCTION pgtq.apply_retention(max_count integer DEFAULT 10000,
                                     dry_run boolean DEFAULT false) RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  now_at  timestamptz := clock_timestamp();
  room    integer := max_count;
  removed bigint := 0;
  n       integer;
  rule    record;
  ids     bigint[];
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
  IF NOT dry_run AND NOT pg_try_advisory_xact_lock(1885828212, 0) THEN
    RETURN 0;
  END IF;
  FOR rule IN
    -- The queues of the history, one index probe each (a loose scan of finished_tasks_retention):
    -- the default applies to each of them that has no rule of its own.
    WITH RECURSIVE history_queues(queue) AS (
      (SELECT f.queue FROM pgtq.finished_tasks f ORDER BY f.queue LIMIT 1)
      UNION ALL
      SELECT (SELECT f.queue FROM pgtq.finished_tasks f
               WHERE f.queue > h.queue ORDER BY f.queue LIMIT 1)
        FROM history_queues h WHERE h.queue IS NOT NULL
    )
    SELECT o.queue, o.state, o.keep FROM pgtq.retention o
     WHERE o.queue IS NOT NULL AND o.keep IS NOT NULL
    UNION ALL
    SELECT h.queue, d.state, d.keep FROM pgtq.retention d, history_queues h
     WHERE d.queue IS NULL AND d.keep IS NOT NULL AND h.queue IS NOT NULL
       AND NOT EXISTS (SELECT 1 FROM pgtq.retention o
                        WHERE o.queue = h.queue AND o.state = d.state)
  LOOP
    IF dry_run THEN
      removed := removed + (SELECT count(*) FROM pgtq.finished_tasks f
                             WHERE f.queue = rule.queue AND f.state = rule.state
                               AND f.finished_at < now_at - rule.keep);
      CONTINUE;
    END IF;
    -- The ids first, then the DELETE by id: one plan per statement whatever room is, a
    -- range of finished_tasks_retention and primary-key probes.
    ids := ARRAY(SELECT f.id FROM pgtq.finished_tasks f
                  WHERE f.queue = rule.queue AND f.state = rule.state
                    AND f.finished_at < now_at - rule.keep
                  ORDER BY f.finished_at LIMIT room FOR UPDATE SKIP LOCKED);
    DELETE FROM pgtq.finished_tasks f WHERE f.id = ANY (ids);
    GET DIAGNOSTICS n = ROW_COUNT;
    removed := removed + n;
    room := room - n;
    EXIT WHEN room = 0;
  END LOOP;
  RETURN removed;
END $$;
COMMENT ON FUNCTION pgtq.apply_retention(integer, boolean) IS
'Deletes at most max_count (1..100000, default 10000) finished tasks past their retention (pgtq.retention), oldest first within each queue and state; returns how many. pgtqd calls it; one caller at a time works (advisory lock 1885828212, 0), others get 0. dry_run: how many are past their retention now (all), deleting nothing. Errors: 22004 NULL, 22023 max_count out of range.';
