-- pgtq.delete_all: delete in bulk the tasks that match (states required; running tasks never),
-- with a dry run, as retry_all and cancel_all do for their own.

CREATE FUNCTION pgtq.delete_matches(queue text, task text, created_after timestamptz,
                                    created_before timestamptz, states pgtq.task_state[])
RETURNS SETOF bigint
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT t.id FROM pgtq.tasks t
   WHERE t.state = ANY (delete_matches.states) AND t.state <> 'running'
     AND (delete_matches.queue IS NULL OR t.queue = delete_matches.queue)
     AND (delete_matches.task IS NULL OR t.task = delete_matches.task)
     AND (delete_matches.created_after IS NULL OR t.created_at >= delete_matches.created_after)
     AND (delete_matches.created_before IS NULL
          OR t.created_at < delete_matches.created_before)
$$;

CREATE FUNCTION pgtq.delete_all(states pgtq.task_state[], queue text DEFAULT NULL,
                                task text DEFAULT NULL,
                                created_after timestamptz DEFAULT NULL,
                                created_before timestamptz DEFAULT NULL,
                                max_count integer DEFAULT 10000,
                                dry_run boolean DEFAULT false)
RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  ids     bigint[];
  live    bigint;
  history bigint;
BEGIN
  PERFORM pgtq.check_filter('pgtq.delete_all: ', delete_all.queue, delete_all.task, NULL,
                            delete_all.states, '{queued,scheduled,succeeded,failed,cancelled}',
                            max_count, dry_run);
  IF dry_run THEN
    RETURN (SELECT count(*) FROM pgtq.delete_matches(delete_all.queue, delete_all.task,
                                                     created_after, created_before,
                                                     delete_all.states));
  END IF;
  ids := ARRAY(SELECT m.id FROM pgtq.delete_matches(delete_all.queue, delete_all.task,
                                                    created_after, created_before,
                                                    delete_all.states) AS m(id)
                ORDER BY m.id LIMIT max_count);
  -- A live task claimed since it was picked is running now: the DELETE reads its row again
  -- once the claim commits, and leaves it.
  DELETE FROM pgtq.live_tasks l
   WHERE l.id = ANY (ids) AND l.state IN ('queued', 'scheduled')
     AND l.state = ANY (delete_all.states);
  GET DIAGNOSTICS live = ROW_COUNT;
  DELETE FROM pgtq.finished_tasks f WHERE f.id = ANY (ids) AND f.state = ANY (delete_all.states);
  GET DIAGNOSTICS history = ROW_COUNT;
  RETURN live + history;
END $$;
COMMENT ON FUNCTION pgtq.delete_all(pgtq.task_state[], text, text, timestamptz, timestamptz, integer, boolean) IS
'Deletes tasks that match, leaving no trace, at most max_count (1..100000, default 10000; oldest id first): states (required: one or more of queued, scheduled, succeeded, failed, cancelled; running tasks are never deleted), queue, task, created_at in [created_after, created_before) (NULL: any). Returns how many were deleted; dry_run: how many match (not capped), changing nothing. Call again for more. Errors: 22004 NULL states, max_count or dry_run, 22023 bad name, states or max_count.';
