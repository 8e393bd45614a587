SELECT bench_exp.push_quiet('bench', 'noop', '[]'::jsonb);
