-- Database roles: one per job, so that each program gets the rights it needs and no more
-- (README "Database roles"; docs/operations.md "Roles").
--
--   pgtq_pusher    push tasks and wait for them to end: push, push_many, task_status, wait,
--                  watch_task, unwatch_task. No right on any table: a raw INSERT cannot store
--                  a task that push would refuse.
--   pgtq_reader    read: SELECT on every table and view (but the claim tokens of running
--                  tasks, live_tasks.claim, which would let a worker limited to some queues
--                  record outcomes in others), and the functions that only read.
--   pgtq_worker    what pgtqd (or a program that claims on its own) needs: pgtq_reader's
--                  rights, and claim, pop, heartbeat, the outcomes (whose follow-ups may go
--                  to any queue), release, report, the scheduler's tick, retention, the
--                  worker registry, the wake-ups and the plugins' default schedules.
--                  pgtq.set_claim_queues narrows the queues a role may claim from.
--   pgtq_operator  pgtq_reader's rights, and retry, cancel and delete (one task or many),
--                  pause and resume queues and schedules: the dashboard and pgtqctl's task
--                  and queue commands.
--   pgtq_admin     all of the above, every other function (queue settings, schedules,
--                  retention, update, prune, set_claim_queues), and writes to the tables: for
--                  people and repairs, never for an application.
--
-- They are NOLOGIN roles: a login role gets one or more (GRANT pgtq_worker TO mail_worker).
-- The functions run as their owner (SECURITY DEFINER, 02_names_and_limits.sql), so a role
-- needs EXECUTE on a function and nothing on the tables behind it. EXECUTE is revoked from
-- PUBLIC on every function of pgtq; only these roles and the owner have it.
--
-- Roles belong to the server, grants to one database. The first database migrated creates
-- the roles (which takes CREATEROLE); every database grants them its own rights, so a login
-- granted pgtq_admin is an admin of pgtq in every database of the server it may connect to.
-- Without CREATEROLE the migration stops with 42501 until a superuser has created them
-- (README), and roles made by hand must be members of the roles below as these are.

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
