-- Database roles (sql/schema/22_roles.sql): pgtq_pusher, pgtq_reader, pgtq_worker,
-- pgtq_operator and pgtq_admin, created where missing (this takes CREATEROLE, or a superuser
-- who created them first), each granted EXECUTE on the functions of its job.
--
-- Every public function now runs as its owner (SECURITY DEFINER; its search_path was pinned
-- already), so the roles need no right on the tables, and EXECUTE is revoked from PUBLIC on
-- every function. A program that used pgtq under a role of its own, with grants on the
-- tables, needs one of the new roles now: GRANT pgtq_pusher TO app (README, "Database
-- roles").
--
-- pgtq.claim_queues and pgtq.set_claim_queues narrow the queues a role may claim from;
-- pgtq.claim checks them (new body). pgtq.keep_ok, which pgtqctl calls, is public now.

CREATE TABLE pgtq.claim_queues (
  role       text PRIMARY KEY,
  queues     text[] NOT NULL,
  changed_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE pgtq.claim_queues IS
  'The queues a role may claim from (pgtq.set_claim_queues); roles without a row may claim from any queue.';

CREATE OR REPLACE FUNCTION pgtq.claim(queue text, task_names text[], max_count integer,
                           worker text, lease interval DEFAULT interval '15 seconds')
RETURNS TABLE (id bigint, claim bigint, task text, args jsonb, attempt integer,
               max_attempts integer, timeout interval, parents jsonb, checkpoint jsonb)
LANGUAGE plpgsql
SECURITY DEFINER SET search_path = pg_catalog, pg_temp
SET plan_cache_mode = force_generic_plan SET enable_seqscan = off SET jit = off AS $$
DECLARE
  picked     bigint[];
  token_base bigint;
  take       integer := max_count;
  capped     boolean := false; -- this call took its turn and counted the room left
  stopped    boolean;          -- the queue's settings, read once its turn began
  cap        integer;
  rate       integer;
  per        interval;
  used       bigint;
  room       bigint;           -- what the limits leave, before max_count
  rate_room  bigint;           -- what the rate limit leaves
  first_at   timestamptz;      -- the oldest entry of the rate window, once written
  keyed      boolean := false; -- queued tasks of the queue carry fairness keys
  limited    boolean;
  key_cap    integer;
  key_rate   integer;
  key_per    interval;
  turn_at    timestamptz;      -- when this call's turn began: its window entry and start time
  limited_by text;             -- the role whose claim queues leave this queue out
BEGIN
  IF NOT (claim.queue ~ '^[A-Za-z0-9_.:-]+$' AND length(claim.queue) <= 128
          AND cardinality(task_names) <= 10000
          AND max_count BETWEEN 0 AND 100000
          AND length(worker) BETWEEN 1 AND 1024
          AND extract(year FROM lease) = 0 AND extract(month FROM lease) = 0
          AND extract(epoch FROM lease) BETWEEN 1 AND 86400)
     OR claim.queue IS NULL OR task_names IS NULL OR max_count IS NULL OR worker IS NULL
     OR lease IS NULL THEN
    PERFORM pgtq.check_claim_args('pgtq.claim', claim.queue, task_names, max_count, worker, lease);
  END IF;
  LOOP
    IF keyed THEN
      picked := pgtq.fair_pick(claim.queue, task_names, take, key_cap, key_rate, key_per, turn_at);
    ELSE
      SELECT array_agg(p.id) INTO picked
        FROM (SELECT l.id FROM pgtq.live_tasks l
               WHERE l.queue = claim.queue AND l.state = 'queued' AND l.fairness_key IS NULL
                 AND l.task = ANY (task_names)
                 -- Evaluated once per call (they name no column of l): a paused queue hands
                 -- out nothing, and neither does a limited or fair one before its turn.
                 AND (capped OR NOT EXISTS (SELECT 1 FROM pgtq.queues q
                                             WHERE q.queue = claim.queue
                                               AND (q.paused OR q.global_concurrency IS NOT NULL
                                                    OR q.rate_limit IS NOT NULL)))
                 AND (capped OR NOT EXISTS (SELECT 1 FROM pgtq.live_tasks k
                                             WHERE k.queue = claim.queue AND k.state = 'queued'
                                               AND k.fairness_key IS NOT NULL))
                 -- Nothing for a login, or a role it SET ROLE to, limited to other queues
                 -- (pgtq.claim_queues): both, since SET ROLE to an unlimited role must not
                 -- lift the login's limit (current_user is this function's owner). The error
                 -- is raised below, off the path of a claim that takes tasks.
                 AND NOT EXISTS (SELECT 1 FROM pgtq.claim_queues r
                                  WHERE r.role IN (session_user, current_setting('role'))
                                    AND NOT claim.queue = ANY (r.queues))
               ORDER BY l.priority, l.run_at, l.id
               LIMIT take
                 FOR NO KEY UPDATE SKIP LOCKED) p;
    END IF;
    -- Nothing on the first pass: a role limited to other queues learns why. Before a fair
    -- queue's first pick too, which comes on a later pass.
    IF picked IS NULL AND NOT capped THEN
      SELECT r.role INTO limited_by FROM pgtq.claim_queues r
       WHERE r.role IN (session_user, current_setting('role'))
         AND NOT claim.queue = ANY (r.queues)
       ORDER BY r.role LIMIT 1;
      IF limited_by IS NOT NULL THEN
        RAISE EXCEPTION 'pgtq.claim: role % may not claim from queue "%"', limited_by,
          claim.queue USING ERRCODE = 'insufficient_privilege',
          HINT = 'pgtq.set_claim_queues names the queues a role may claim from.';
      END IF;
    END IF;
    -- Something claimed, or nothing queued: done. Only a paused, limited or fair queue goes on.
    EXIT WHEN picked IS NOT NULL OR capped OR max_count = 0;
    SELECT coalesce(q.paused, false),
           q.global_concurrency IS NOT NULL OR q.rate_limit IS NOT NULL,
           EXISTS (SELECT 1 FROM pgtq.live_tasks k
                    WHERE k.queue = claim.queue AND k.state = 'queued'
                      AND k.fairness_key IS NOT NULL)
      INTO stopped, limited, keyed
      FROM (SELECT 1) AS one LEFT JOIN pgtq.queues q ON q.queue = claim.queue;
    EXIT WHEN stopped OR NOT (limited OR keyed);
    IF current_setting('transaction_isolation') <> 'read committed' THEN
      RAISE EXCEPTION 'pgtq.claim: queue "%" has a concurrency or rate limit or fairness keys, '
        'which claims keep only in READ COMMITTED; this transaction is %', claim.queue,
        upper(current_setting('transaction_isolation'))
        USING ERRCODE = 'invalid_transaction_state';
    END IF;
    EXIT WHEN NOT pg_try_advisory_xact_lock(1885828210, hashtext(claim.queue));
    -- One clock for the rate window and the tasks' started_at: the window then holds exactly
    -- the starts its tasks show (a clock read per row would start them a little later than
    -- the window says, and a window of starts could hold one more than the limit).
    turn_at := clock_timestamp();
    -- Read once the turn began: the claims before it have committed what they took.
    SELECT q.paused, q.global_concurrency, q.rate_limit, q.rate_period, q.key_concurrency,
           q.key_rate_limit, q.key_rate_period
      INTO stopped, cap, rate, per, key_cap, key_rate, key_per
      FROM pgtq.queues q WHERE q.queue = claim.queue;
    EXIT WHEN stopped;
    room := max_count + 1;
    IF cap IS NOT NULL THEN
      SELECT least(room, cap - count(*)) INTO room FROM pgtq.live_tasks l
       WHERE l.state = 'running' AND l.queue = claim.queue;
    END IF;
    IF rate IS NOT NULL THEN
      SELECT rate - coalesce(sum(s.n), 0) INTO rate_room
        FROM pgtq.queues q, unnest(q.rate_starts, q.rate_counts) AS s(at, n)
       WHERE q.queue = claim.queue AND s.at > turn_at - per;
      room := least(room, rate_room);
    END IF;
    take := greatest(least(max_count, room), 0);
    capped := true;
    EXIT WHEN take = 0;
  END LOOP;
  IF capped AND picked IS NOT NULL THEN
    IF rate IS NOT NULL THEN
      -- The window: the claims of the last period, and this one.
      UPDATE pgtq.queues q
         SET (rate_starts, rate_counts) =
             (SELECT w.new_starts, w.new_counts
                FROM pgtq.rate_window_add(q.rate_starts, q.rate_counts, turn_at, per,
                                          cardinality(picked)) w)
       WHERE q.queue = claim.queue
      RETURNING q.rate_starts[1] INTO first_at;
      -- The window is full: room comes when its oldest entry leaves. The schedulers wake the
      -- queue then (pgtq.next_rate_room); one asleep past it is told now.
      IF cardinality(picked) >= rate_room THEN
        PERFORM pgtq.wake_schedulers(first_at + per);
      END IF;
    END IF;
    -- It took all it asked for and left room: a claimer that found the turn taken may take
    -- the rest once this commits.
    IF cardinality(picked) = take AND room > take THEN
      PERFORM pgtq.wake_queue(claim.queue);
    END IF;
  END IF;
  -- One strong random number per call that claims something; each row's token is it XOR
  -- the row's id. The tokens of one call all go to the one caller, who may work out the
  -- others of its own batch from one of them, and that is all: another call, or a later
  -- claim of the same task, draws a new number. An idle poll draws none; its UPDATE below
  -- changes no row.
  IF picked IS NOT NULL THEN
    token_base := pgtq.new_claim_token();
  END IF;
  RETURN QUERY
  WITH claimed AS (
    UPDATE pgtq.live_tasks l
       SET state = 'running',
           attempts = CASE WHEN l.attempts < 2147483647 THEN l.attempts + 1 ELSE l.attempts END,
           claims = CASE WHEN l.claims < 9223372036854775807 THEN l.claims + 1 ELSE l.claims END,
           claim = coalesce(nullif(token_base # l.id, 0), 1),
           started_at = coalesce(turn_at, clock_timestamp()), locked_by = worker,
           locked_until = clock_timestamp() + lease
     WHERE l.id = ANY (picked)
    RETURNING l.id, l.claim, l.task, l.args, l.attempts, l.max_attempts, l.timeout, l.priority,
              l.run_at, l.depends_on, l.checkpoint
  )
  SELECT c.id, c.claim, c.task, c.args, c.attempts, c.max_attempts, c.timeout,
         CASE WHEN c.depends_on IS NOT NULL THEN pgtq.task_parents(c.id) END, c.checkpoint
    FROM claimed c ORDER BY c.priority, c.run_at, c.id;
END $$;
COMMENT ON FUNCTION pgtq.claim(text, text[], integer, text, interval) IS
'Claims up to max_count (0..100000) queued tasks of queue named in task_names, in (priority, run_at, id) order (none while the queue is paused; with a global concurrency limit, at most the limit less the running tasks of the queue; with a rate limit, at most the limit less the tasks claimed in the last rate_period; while queued tasks carry fairness keys, the keys take turns, each key at most the queue''s key_concurrency running and key_rate_limit claimed per key_rate_period; claims of a limited or fair queue take turns; call it in READ COMMITTED), for worker (1..1024 characters) with a lease of 1 second..1 day. Returns id, claim token (random, 64 bits), task, args, attempt, max_attempts, timeout (the push''s, NULL if none), parents (pgtq.task_parents for a task pushed with depends_on, else NULL), checkpoint (what an earlier attempt saved, pgtq.report; NULL if none). pgtqd uses it; programs without pgtqd use pgtq.pop. Errors: 22004 NULL, 22023 bad value, 42501 the login or the role it SET ROLE to may not claim from queue (pgtq.set_claim_queues).';

ALTER FUNCTION pgtq.push(text, text, jsonb, timestamptz, interval, integer, integer, interval,
  text, pgtq.task_state[], interval, text, text, text[], jsonb, bigint[], text) SECURITY
  DEFINER;
ALTER FUNCTION pgtq.push_many(text, jsonb) SECURITY DEFINER;
ALTER FUNCTION pgtq.push_many(text, text[], jsonb[], integer[], integer[], timestamptz[],
  interval[], interval[], text[], pgtq.task_state[], interval, text, text[], jsonb[], jsonb[],
  jsonb[], text[]) SECURITY DEFINER;
ALTER FUNCTION pgtq.heartbeat(bigint[], bigint[], interval) SECURITY DEFINER;
ALTER FUNCTION pgtq.pop(text, text[], integer, text, interval) SECURITY DEFINER;
ALTER FUNCTION pgtq.finish_many(bigint[], bigint[], text[], jsonb[], text[], float8[], jsonb[],
  jsonb[], jsonb[]) SECURITY DEFINER;
ALTER FUNCTION pgtq.finish_many(jsonb) SECURITY DEFINER;
ALTER FUNCTION pgtq.backoff(integer, float8, float8, float8) SECURITY DEFINER;
ALTER FUNCTION pgtq.complete(bigint, bigint, jsonb) SECURITY DEFINER;
ALTER FUNCTION pgtq.fail(bigint, bigint, text, interval, boolean) SECURITY DEFINER;
ALTER FUNCTION pgtq.snooze(bigint, bigint, interval) SECURITY DEFINER;
ALTER FUNCTION pgtq.next_rate_room() SECURITY DEFINER;
ALTER FUNCTION pgtq.tick(integer) SECURITY DEFINER;
ALTER FUNCTION pgtq.prune(timestamptz) SECURITY DEFINER;
ALTER FUNCTION pgtq.release(bigint[], bigint[]) SECURITY DEFINER;
ALTER FUNCTION pgtq.cancel(bigint) SECURITY DEFINER;
ALTER FUNCTION pgtq.wake_queue(text) SECURITY DEFINER;
ALTER FUNCTION pgtq.wake_schedulers(timestamptz) SECURITY DEFINER;
ALTER FUNCTION pgtq.worker_idle(text, text) SECURITY DEFINER;
ALTER FUNCTION pgtq.worker_busy(text) SECURITY DEFINER;
ALTER FUNCTION pgtq.pushes_in_flight(text, text[]) SECURITY DEFINER;
ALTER FUNCTION pgtq.scheduler_waiting(text, interval) SECURITY DEFINER;
ALTER FUNCTION pgtq.delayed_pushes_in_flight(text[]) SECURITY DEFINER;
ALTER FUNCTION pgtq.next_due() SECURITY DEFINER;
ALTER FUNCTION pgtq.retry(bigint, timestamptz) SECURITY DEFINER;
ALTER FUNCTION pgtq.retry_all(text, text, text, timestamptz, timestamptz, pgtq.task_state[],
  integer, boolean) SECURITY DEFINER;
ALTER FUNCTION pgtq.cancel_all(text, text, timestamptz, timestamptz, pgtq.task_state[], integer,
  boolean) SECURITY DEFINER;
ALTER FUNCTION pgtq.delete(bigint) SECURITY DEFINER;
ALTER FUNCTION pgtq.delete_all(pgtq.task_state[], text, text, timestamptz, timestamptz, integer,
  boolean) SECURITY DEFINER;
ALTER FUNCTION pgtq.update(bigint, jsonb, integer, timestamptz, integer, interval) SECURITY DEFINER;
ALTER FUNCTION pgtq.pause(text) SECURITY DEFINER;
ALTER FUNCTION pgtq.resume(text) SECURITY DEFINER;
ALTER FUNCTION pgtq.set_global_concurrency(text, integer) SECURITY DEFINER;
ALTER FUNCTION pgtq.set_rate_limit(text, integer, interval) SECURITY DEFINER;
ALTER FUNCTION pgtq.set_task_defaults(text, integer, integer, interval) SECURITY DEFINER;
ALTER FUNCTION pgtq.reset_queue(text) SECURITY DEFINER;
ALTER FUNCTION pgtq.worker_seen(text, text, text, integer, text, integer, text, interval,
  timestamptz, text[], interval) SECURITY DEFINER;
ALTER FUNCTION pgtq.sweep_gone_workers() SECURITY DEFINER;
ALTER FUNCTION pgtq.worker_stopped(text, text) SECURITY DEFINER;
ALTER FUNCTION pgtq.keep_ok(interval) SECURITY DEFINER;
ALTER FUNCTION pgtq.set_retention(text, text, interval) SECURITY DEFINER;
ALTER FUNCTION pgtq.reset_retention(text, text) SECURITY DEFINER;
ALTER FUNCTION pgtq.apply_retention(integer, boolean) SECURITY DEFINER;
ALTER FUNCTION pgtq.set_key_concurrency(text, integer) SECURITY DEFINER;
ALTER FUNCTION pgtq.set_key_rate_limit(text, integer, interval) SECURITY DEFINER;
ALTER FUNCTION pgtq.set_key_weight(text, text, integer) SECURITY DEFINER;
ALTER FUNCTION pgtq.add_history_partitions(date, integer) SECURITY DEFINER;
ALTER FUNCTION pgtq.drop_history_partition(regclass, timestamptz) SECURITY DEFINER;
ALTER FUNCTION pgtq.cron_fire_times(text, text, integer, timestamptz) SECURITY DEFINER;
ALTER FUNCTION pgtq.set_schedule(text, text, text, jsonb, text, interval, text, text, interval,
  integer, integer, interval, boolean) SECURITY DEFINER;
ALTER FUNCTION pgtq.pause_schedule(text) SECURITY DEFINER;
ALTER FUNCTION pgtq.resume_schedule(text) SECURITY DEFINER;
ALTER FUNCTION pgtq.delete_schedule(text) SECURITY DEFINER;
ALTER FUNCTION pgtq.register_schedule(text, text, text, jsonb, text, interval, text, text)
  SECURITY DEFINER;
ALTER FUNCTION pgtq.schedule_fire_times(text, integer, timestamptz) SECURITY DEFINER;
ALTER FUNCTION pgtq.fire_schedules(integer) SECURITY DEFINER;
ALTER FUNCTION pgtq.watch_task(bigint) SECURITY DEFINER;
ALTER FUNCTION pgtq.unwatch_task(bigint) SECURITY DEFINER;
ALTER FUNCTION pgtq.task_status(bigint) SECURITY DEFINER;
ALTER FUNCTION pgtq.notify_ended(bigint[]) SECURITY DEFINER;
ALTER FUNCTION pgtq.wait(bigint, interval) SECURITY DEFINER;
ALTER FUNCTION pgtq.tasks_ended(bigint[]) SECURITY DEFINER;
ALTER FUNCTION pgtq.task_parents(bigint) SECURITY DEFINER;
ALTER FUNCTION pgtq.report(bigint[], bigint[], jsonb[], jsonb[]) SECURITY DEFINER;
ALTER FUNCTION pgtq.report(bigint, bigint, jsonb, jsonb) SECURITY DEFINER;

COMMENT ON FUNCTION pgtq.keep_ok(interval) IS
'Whether keep is a retention pgtq.set_retention accepts: 0 to 100 years, no part of it negative. NULL for NULL. Errors: none.';

-- Sets the queues role may claim from (pgtq.claim and pgtq.pop refuse any other with 42501):
-- queues, at most 1000 queue names (an empty array: none); NULL lifts the restriction, and
-- role may claim from any queue again. role is a role's name; it must exist. The limit holds
-- for sessions that log in as role and for those that SET ROLE to it, not for the members of
-- role. Kept by name: renaming role leaves the row behind. Takes effect at the next claim.
CREATE FUNCTION pgtq.set_claim_queues(role text, queues text[]) RETURNS void
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF set_claim_queues.role IS NULL THEN
    RAISE EXCEPTION 'pgtq.set_claim_queues: role must not be NULL'
      USING ERRCODE = 'null_value_not_allowed';
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_roles r WHERE r.rolname = set_claim_queues.role) THEN
    RAISE EXCEPTION 'pgtq.set_claim_queues: role "%" does not exist', set_claim_queues.role
      USING ERRCODE = 'undefined_object';
  END IF;
  IF cardinality(queues) > 1000 THEN
    RAISE EXCEPTION 'pgtq.set_claim_queues: queues holds % names, the limit is 1000',
      cardinality(queues) USING ERRCODE = 'program_limit_exceeded';
  END IF;
  IF EXISTS (SELECT 1 FROM unnest(queues) AS q(name)
              WHERE q.name IS NULL OR q.name !~ '^[A-Za-z0-9_.:-]+$' OR length(q.name) > 128) THEN
    RAISE EXCEPTION 'pgtq.set_claim_queues: queues must hold queue names (1..128 characters '
      'from [A-Za-z0-9_.:-]), got %', queues USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF queues IS NULL THEN
    DELETE FROM pgtq.claim_queues r WHERE r.role = set_claim_queues.role;
    RETURN;
  END IF;
  INSERT INTO pgtq.claim_queues AS r (role, queues)
  VALUES (set_claim_queues.role,
          ARRAY(SELECT DISTINCT q.name FROM unnest(queues) AS q(name) ORDER BY q.name))
  ON CONFLICT ON CONSTRAINT claim_queues_pkey
  DO UPDATE SET queues = excluded.queues, changed_at = now();
END $$;
COMMENT ON FUNCTION pgtq.set_claim_queues(text, text[]) IS
'Sets the queues role (an existing role''s name) may claim from: queues, at most 1000 queue names, {} none; NULL: any queue. Holds for sessions logged in as role or SET ROLE to it, not for role''s members; kept by name. pgtq.claim and pgtq.pop refuse others with 42501. Errors: 22004 NULL role, 42704 no such role, 22023 bad queue name, 54000 more than 1000.';

-- The roles, created where missing. A concurrent migration of another database may create
-- one between the look and the CREATE: that one stands.
DO $$
DECLARE
  wanted    text;
  member_of text;
BEGIN
  FOR wanted, member_of IN
    VALUES ('pgtq_pusher', NULL), ('pgtq_reader', NULL), ('pgtq_worker', 'pgtq_reader'),
           ('pgtq_operator', 'pgtq_reader'),
           ('pgtq_admin', 'pgtq_pusher, pgtq_worker, pgtq_operator')
  LOOP
    CONTINUE WHEN EXISTS (SELECT 1 FROM pg_catalog.pg_roles r WHERE r.rolname = wanted);
    IF NOT EXISTS (SELECT 1 FROM pg_catalog.pg_roles r
                    WHERE r.rolname = current_user AND (r.rolsuper OR r.rolcreaterole)) THEN
      RAISE EXCEPTION 'pgtq: role % does not exist, and role % may not create it', wanted,
        current_user USING ERRCODE = 'insufficient_privilege',
        HINT = 'Have a superuser create pgtq''s roles first (README, "Database roles").';
    END IF;
    BEGIN
      EXECUTE format('CREATE ROLE %I NOLOGIN', wanted)
        || coalesce(' IN ROLE ' || member_of, '');
    EXCEPTION WHEN duplicate_object OR unique_violation THEN
      NULL;
    END;
  END LOOP;
  -- Roles made by hand, or by an older tool, must give what the grants below assume.
  SELECT string_agg(m.role || ' in ' || m.member_of, ', ') INTO member_of
    FROM (VALUES ('pgtq_worker', 'pgtq_reader'), ('pgtq_operator', 'pgtq_reader'),
                 ('pgtq_admin', 'pgtq_pusher'), ('pgtq_admin', 'pgtq_worker'),
                 ('pgtq_admin', 'pgtq_operator')) AS m(role, member_of)
   WHERE NOT pg_catalog.pg_has_role(m.role, m.member_of, 'MEMBER');
  IF member_of IS NOT NULL THEN
    RAISE EXCEPTION 'pgtq: these roles exist without the membership pgtq needs: %', member_of
      USING ERRCODE = 'invalid_grant_operation',
      HINT = 'GRANT the second role to the first (README, "Database roles").';
  END IF;
END $$;

REVOKE EXECUTE ON ALL FUNCTIONS IN SCHEMA pgtq FROM PUBLIC;
GRANT USAGE ON SCHEMA pgtq TO pgtq_pusher, pgtq_reader, pgtq_worker, pgtq_operator, pgtq_admin;
GRANT SELECT (id, queue, task, args, state, priority, run_at, attempts, max_attempts, claims,
  created_at, started_at, locked_by, locked_until, cancel_requested, last_error, errors,
  timeout, unique_key, fairness_key, tags, metadata, depends_on, on_parent_failure, progress,
  checkpoint) ON pgtq.live_tasks TO pgtq_reader;
GRANT SELECT ON pgtq.finished_tasks, pgtq.idle_workers, pgtq.waiting_schedulers, pgtq.queues,
  pgtq.fairness_cursors, pgtq.fairness_weights, pgtq.key_rate_windows, pgtq.workers,
  pgtq.retention, pgtq.schedules, pgtq.deleted_schedules, pgtq.task_waiters,
  pgtq.task_dependencies, pgtq.unsettled_ends, pgtq.claim_queues, pgtq.tasks, pgtq.live_workers,
  pgtq.unhandled_tasks, pgtq.queue_stats, pgtq.queue_minutes
  TO pgtq_reader;
GRANT SELECT, INSERT, UPDATE, DELETE ON pgtq.live_tasks, pgtq.finished_tasks, pgtq.idle_workers,
  pgtq.waiting_schedulers, pgtq.queues, pgtq.fairness_cursors, pgtq.fairness_weights,
  pgtq.key_rate_windows, pgtq.workers, pgtq.retention, pgtq.schedules, pgtq.deleted_schedules,
  pgtq.task_waiters, pgtq.task_dependencies, pgtq.unsettled_ends, pgtq.claim_queues
  TO pgtq_admin;
GRANT USAGE, SELECT, UPDATE ON SEQUENCE pgtq.task_id_seq TO pgtq_admin;
GRANT EXECUTE ON FUNCTION
  pgtq.push(text, text, jsonb, timestamptz, interval, integer, integer, interval, text,
      pgtq.task_state[], interval, text, text, text[], jsonb, bigint[], text),
  pgtq.push_many(text, jsonb),
  pgtq.push_many(text, text[], jsonb[], integer[], integer[], timestamptz[], interval[],
      interval[], text[], pgtq.task_state[], interval, text, text[], jsonb[], jsonb[], jsonb[],
      text[]),
  pgtq.task_status(bigint),
  pgtq.wait(bigint, interval),
  pgtq.watch_task(bigint),
  pgtq.unwatch_task(bigint)
  TO pgtq_pusher;
GRANT EXECUTE ON FUNCTION
  pgtq.task_status(bigint),
  pgtq.wait(bigint, interval),
  pgtq.watch_task(bigint),
  pgtq.unwatch_task(bigint),
  pgtq.task_parents(bigint),
  pgtq.backoff(integer, float8, float8, float8),
  pgtq.cron_fire_times(text, text, integer, timestamptz),
  pgtq.schedule_fire_times(text, integer, timestamptz),
  pgtq.next_due(),
  pgtq.next_rate_room(),
  pgtq.keep_ok(interval)
  TO pgtq_reader;
GRANT EXECUTE ON FUNCTION
  pgtq.claim(text, text[], integer, text, interval),
  pgtq.pop(text, text[], integer, text, interval),
  pgtq.heartbeat(bigint[], bigint[], interval),
  pgtq.finish_many(bigint[], bigint[], text[], jsonb[], text[], float8[], jsonb[], jsonb[],
      jsonb[]),
  pgtq.finish_many(jsonb),
  pgtq.complete(bigint, bigint, jsonb),
  pgtq.fail(bigint, bigint, text, interval, boolean),
  pgtq.snooze(bigint, bigint, interval),
  pgtq.release(bigint[], bigint[]),
  pgtq.report(bigint[], bigint[], jsonb[], jsonb[]),
  pgtq.report(bigint, bigint, jsonb, jsonb),
  pgtq.tick(integer),
  pgtq.apply_retention(integer, boolean),
  pgtq.worker_idle(text, text),
  pgtq.worker_busy(text),
  pgtq.pushes_in_flight(text, text[]),
  pgtq.scheduler_waiting(text, interval),
  pgtq.delayed_pushes_in_flight(text[]),
  pgtq.worker_seen(text, text, text, integer, text, integer, text, interval, timestamptz, text[],
      interval),
  pgtq.worker_stopped(text, text),
  pgtq.sweep_gone_workers(),
  pgtq.register_schedule(text, text, text, jsonb, text, interval, text, text)
  TO pgtq_worker;
GRANT EXECUTE ON FUNCTION
  pgtq.retry(bigint, timestamptz),
  pgtq.retry_all(text, text, text, timestamptz, timestamptz, pgtq.task_state[], integer, boolean),
  pgtq.cancel(bigint),
  pgtq.cancel_all(text, text, timestamptz, timestamptz, pgtq.task_state[], integer, boolean),
  pgtq.delete(bigint),
  pgtq.delete_all(pgtq.task_state[], text, text, timestamptz, timestamptz, integer, boolean),
  pgtq.pause(text),
  pgtq.resume(text),
  pgtq.pause_schedule(text),
  pgtq.resume_schedule(text)
  TO pgtq_operator;
GRANT EXECUTE ON FUNCTION
  pgtq.add_history_partitions(date, integer),
  pgtq.delete_schedule(text),
  pgtq.drop_history_partition(regclass, timestamptz),
  pgtq.fire_schedules(integer),
  pgtq.notify_ended(bigint[]),
  pgtq.prune(timestamptz),
  pgtq.reset_queue(text),
  pgtq.reset_retention(text, text),
  pgtq.set_global_concurrency(text, integer),
  pgtq.set_key_concurrency(text, integer),
  pgtq.set_key_rate_limit(text, integer, interval),
  pgtq.set_key_weight(text, text, integer),
  pgtq.set_rate_limit(text, integer, interval),
  pgtq.set_retention(text, text, interval),
  pgtq.set_schedule(text, text, text, jsonb, text, interval, text, text, interval, integer,
      integer, interval, boolean),
  pgtq.set_task_defaults(text, integer, integer, interval),
  pgtq.tasks_ended(bigint[]),
  pgtq.update(bigint, jsonb, integer, timestamptz, integer, interval),
  pgtq.wake_queue(text),
  pgtq.wake_schedulers(timestamptz),
  pgtq.set_claim_queues(text, text[])
  TO pgtq_admin;

-- The migrator's ledger, which pgtqd reads at start (it is not part of sql/schema).
GRANT SELECT ON pgtq.schema_migrations TO pgtq_reader;
