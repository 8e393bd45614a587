-- Concurrent-push floor: one task row per autocommit INSERT into a table shaped like
-- pgtq.live_tasks.
INSERT INTO floor_push_like (queue, task, args, state, priority, run_at, max_attempts)
VALUES ('bench', 'noop', '[]', 'queued', 0, now(), 5);
