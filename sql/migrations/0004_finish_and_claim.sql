-- One round trip and one commit for a busy worker's turn: record the outcomes it has and
-- claim the next tasks, in one transaction. With synchronous_commit = on every commit
-- waits for a WAL flush, so halving the commits of the claim loop is what raises its rate.
-- The result mixes two kinds of row: discarded = true rows name an outcome that was not
-- recorded (its claim is no longer current, as pgtq.finish_many reports), the others are
-- claimed tasks, as pgtq.claim returns them. If anything fails, neither happens.
CREATE FUNCTION pgtq.finish_and_claim(outcomes jsonb, queue text, task_names text[],
                                      max_count integer, worker text,
                                      lease interval DEFAULT interval '15 seconds')
RETURNS TABLE (discarded boolean, id bigint, claim integer, task text, args jsonb,
               attempt integer, max_attempts integer)
LANGUAGE plpgsql AS $$
BEGIN
  IF outcomes IS NOT NULL AND jsonb_array_length(outcomes) > 0 THEN
    RETURN QUERY
    SELECT true, f.id, NULL::integer, NULL::text, NULL::jsonb, NULL::integer, NULL::integer
      FROM pgtq.finish_many(outcomes) AS f(id);
  END IF;
  IF max_count > 0 THEN
    RETURN QUERY
    SELECT false, c.id, c.claim, c.task, c.args, c.attempt, c.max_attempts
      FROM pgtq.claim(finish_and_claim.queue, task_names, max_count, worker, lease) AS c;
  END IF;
END $$;
