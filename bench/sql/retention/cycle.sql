-- One task's life on the outcome path: pushed, then claimed and completed (two commits).
SELECT pgtq.push('cycle', 'noop');
SELECT count(*) FROM pgtq.claim('cycle', '{noop}', 1, 'bench') c, pgtq.complete(c.id, c.claim);
