-- pgtq schema, version 1.
--
-- Storage is split for the hot path (docs/architecture.md, "Storage"):
--   pgtq.live_tasks      queued, scheduled and running tasks; small, hot, claimed from
--   pgtq.finished_tasks  succeeded, failed and cancelled tasks; append-only history
--   pgtq.tasks           a view over both, so state and history are one query away
-- A task moves from the first table to the second exactly once, when it ends.
--
-- The migrator runs this file inside one transaction while holding the
-- migration advisory lock; the schema "pgtq" already exists at that point.

CREATE TYPE pgtq.task_state AS ENUM
  ('queued', 'scheduled', 'running', 'succeeded', 'failed', 'cancelled');

CREATE SEQUENCE pgtq.task_id_seq AS bigint;

CREATE TABLE pgtq.live_tasks (
  id               bigint PRIMARY KEY DEFAULT nextval('pgtq.task_id_seq'),
  queue            text NOT NULL,
  task             text NOT NULL,
  args             jsonb NOT NULL,
  state            pgtq.task_state NOT NULL,
  priority         integer NOT NULL DEFAULT 0,   -- smaller runs first
  run_at           timestamptz NOT NULL,
  attempts         integer NOT NULL DEFAULT 0,   -- attempts started (snoozes and releases give theirs back)
  max_attempts     integer NOT NULL,
  claims           integer NOT NULL DEFAULT 0,   -- times claimed, never decreases: the fencing token
  created_at       timestamptz NOT NULL DEFAULT now(),
  started_at       timestamptz,
  locked_by        text,
  locked_until     timestamptz,
  cancel_requested boolean NOT NULL DEFAULT false,
  last_error       text,
  errors           jsonb NOT NULL DEFAULT '[]',  -- [{"attempt":n,"at":"…","error":"…"}, …]
  CONSTRAINT live_tasks_state CHECK (state IN ('queued', 'scheduled', 'running')),
  CONSTRAINT live_tasks_lease CHECK ((state = 'running') = (locked_until IS NOT NULL))
) WITH (fillfactor = 70);
ALTER SEQUENCE pgtq.task_id_seq OWNED BY pgtq.live_tasks.id;

-- The claim query walks this index in claim order and stops after LIMIT rows.
CREATE INDEX live_tasks_claim ON pgtq.live_tasks (queue, priority, run_at, id)
  WHERE state = 'queued';
-- The scheduler's two sweeps.
CREATE INDEX live_tasks_due ON pgtq.live_tasks (run_at) WHERE state = 'scheduled';
CREATE INDEX live_tasks_lease ON pgtq.live_tasks (locked_until) WHERE state = 'running';

CREATE TABLE pgtq.finished_tasks (
  id            bigint PRIMARY KEY,
  queue         text NOT NULL,
  task          text NOT NULL,
  args          jsonb NOT NULL,
  state         pgtq.task_state NOT NULL,
  priority      integer NOT NULL,
  run_at        timestamptz NOT NULL,
  attempts      integer NOT NULL,
  max_attempts  integer NOT NULL,
  created_at    timestamptz NOT NULL,
  started_at    timestamptz,
  finished_at   timestamptz NOT NULL,
  locked_by     text,                           -- the worker that ran the last attempt
  result        jsonb,
  last_error    text,
  errors        jsonb NOT NULL,
  CONSTRAINT finished_tasks_state CHECK (state IN ('succeeded', 'failed', 'cancelled'))
);
-- Rows arrive in finishing order, so a BRIN index serves pruning by age at almost no cost.
CREATE INDEX finished_tasks_finished_at ON pgtq.finished_tasks USING brin (finished_at);

CREATE VIEW pgtq.tasks AS
  SELECT id, queue, task, args, state, priority, run_at, attempts, max_attempts,
         created_at, started_at, NULL::timestamptz AS finished_at, locked_by, locked_until,
         NULL::jsonb AS result, last_error, errors
    FROM pgtq.live_tasks
  UNION ALL
  SELECT id, queue, task, args, state, priority, run_at, attempts, max_attempts,
         created_at, started_at, finished_at, locked_by, NULL::timestamptz AS locked_until,
         result, last_error, errors
    FROM pgtq.finished_tasks;

COMMENT ON VIEW pgtq.tasks IS 'Every task of every queue, live and finished (until pruned).';
