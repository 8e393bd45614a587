SELECT pgtq.push('bench', 'noop', '[]'::jsonb);
