-- What operators and applications read: every task, live or finished.

CREATE VIEW pgtq.tasks AS
  SELECT id, queue, task, args, state, priority, run_at, attempts, max_attempts,
         created_at, started_at, NULL::timestamptz AS finished_at, locked_by, locked_until,
         NULL::jsonb AS result, last_error, errors, timeout, unique_key, fairness_key, tags,
         metadata, depends_on, on_parent_failure, progress, checkpoint
    FROM pgtq.live_tasks
  UNION ALL
  SELECT id, queue, task, args, state, priority, run_at, attempts, max_attempts,
         created_at, started_at, finished_at, locked_by, NULL::timestamptz AS locked_until,
         result, last_error, errors, timeout, unique_key, fairness_key, tags, metadata,
         depends_on, on_parent_failure, progress, NULL::jsonb AS checkpoint
    FROM pgtq.finished_tasks;

COMMENT ON VIEW pgtq.tasks IS 'Every task of every queue, live and finished (until pruned).';
