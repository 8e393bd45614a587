-- :n finished tasks of queue 'bench', ended between 30 days and 2 days ago in id order (the
-- order in which a real history arrives), half succeeded, a quarter failed, a quarter
-- cancelled; the args and result of a small real task.
INSERT INTO pgtq.finished_tasks
  (id, queue, task, args, state, priority, run_at, attempts, max_attempts, created_at,
   started_at, finished_at, locked_by, result, last_error, errors)
SELECT nextval('pgtq.task_id_seq'), 'bench', 'resize_image',
       jsonb_build_object('image', i, 'width', 640),
       (CASE WHEN i % 4 < 2 THEN 'succeeded' WHEN i % 4 = 2 THEN 'failed' ELSE 'cancelled' END)::pgtq.task_state,
       0, t, 1, 5, t, t, t + interval '20 ms', 'bench:1', '{"ok": true}', NULL, '[]'
  FROM generate_series(1, :n) AS i,
       LATERAL (SELECT now() - interval '30 days' + (interval '28 days') * i / :n AS t) AS at;
