INSERT INTO pgtq.live_tasks (queue, task, args, state, priority, run_at, max_attempts) SELECT 'bench', 'noop', '[]', 'queued', 0, now(), 5 FROM generate_series(1, 1000);
