INSERT INTO pgtq.live_tasks (queue, task, args, state, priority, run_at, max_attempts) VALUES ('bench', 'noop', '[]', 'queued', 0, now(), 5);
