-- Concurrent pushes through the SQL API: one pgtq.push per autocommit transaction.
SELECT pgtq.push('bench', 'noop', '[]');
