-- The tables, their indexes and the task_state type.
--
-- Storage is split for the hot path (docs/architecture.md, "Storage"):
--   pgtq.live_tasks      queued, scheduled and running tasks; small, hot, claimed from
--   pgtq.finished_tasks  succeeded, failed and cancelled tasks; the history (rows added as
--                        tasks end, removed by retention, prune, delete, or a retry that
--                        brings one back)
--   pgtq.tasks           a view over both (08_views.sql), so state and history are one query
--                        away
-- A task moves from the first table to the second when it ends (pgtq.finished_row,
-- 05_outcomes.sql), and back only when an operator retries it (10_redrive.sql).
--
-- These files are the schema as it is now; sql/README.md says how they relate to
-- sql/migrations. The schema "pgtq" exists when they run.

-- pending: waiting for the tasks it depends on (20_dependencies.sql) to end.
CREATE TYPE pgtq.task_state AS ENUM
  ('pending', 'queued', 'scheduled', 'running', 'succeeded', 'failed', 'cancelled');

CREATE SEQUENCE pgtq.task_id_seq AS bigint;

-- Column order matters: functions copy rows with l.* and RETURNING l, and a database
-- migrated from 0001 has claim (added by 0007) last.
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
  claims           bigint NOT NULL DEFAULT 0,    -- times claimed; a retry restarts it at attempts
  created_at       timestamptz NOT NULL DEFAULT now(),
  started_at       timestamptz,
  locked_by        text,
  locked_until     timestamptz,
  cancel_requested boolean NOT NULL DEFAULT false,
  last_error       text,
  errors           jsonb NOT NULL DEFAULT '[]',  -- [{"attempt":n,"at":"…","error":"…"}, …]
  claim            bigint,                       -- the fencing token of the current claim
  timeout          interval,                     -- one attempt's limit; NULL: the task name's
  unique_key       text,                         -- at most one live task per (queue, unique_key)
  fairness_key     text,                         -- claims take turns between a queue's keys
  tags             text[],                       -- labels to find tasks by; NULL: none
  metadata         jsonb,                        -- the pusher's JSON object; NULL: none
  depends_on       bigint[],                     -- the tasks it waits for; NULL: none
  on_parent_failure text                         -- what it does when one of them fails
    CONSTRAINT live_tasks_on_parent_failure CHECK (on_parent_failure IN ('cancel', 'run')),
  progress         jsonb,                        -- the handler's last report of how far it is
  checkpoint       jsonb,                        -- what the handler saved for the next attempt
  CONSTRAINT live_tasks_state CHECK (state IN ('pending', 'queued', 'scheduled', 'running')),
  CONSTRAINT live_tasks_lease CHECK ((state = 'running') = (locked_until IS NOT NULL)),
  CONSTRAINT live_tasks_claim CHECK ((state = 'running') = (claim IS NOT NULL)),
  -- '' stands for "no key" where fair claims keep keys (pgtq.fairness_cursors).
  CONSTRAINT live_tasks_fairness_key CHECK (octet_length(fairness_key) BETWEEN 1 AND 1024)
) WITH (fillfactor = 70);
ALTER SEQUENCE pgtq.task_id_seq OWNED BY pgtq.live_tasks.id;
COMMENT ON COLUMN pgtq.live_tasks.claim IS
  'Random token of the current claim (running tasks only); fences every call about the attempt.';
COMMENT ON COLUMN pgtq.live_tasks.claims IS 'How many times the task was claimed.';
COMMENT ON COLUMN pgtq.live_tasks.timeout IS
  'How long one attempt may run (push''s timeout; NULL: the task name''s or the daemon''s).';

-- The claim query walks this index in claim order and stops after LIMIT rows. Tasks with a
-- fairness key are in the next index instead: every queued task is in exactly one of the two,
-- so a push pays for one claim index whether it has a key or not.
CREATE INDEX live_tasks_claim ON pgtq.live_tasks (queue, priority, run_at, id)
  WHERE state = 'queued' AND fairness_key IS NULL;
-- Fair claims (04_claim.sql, pgtq.fair_pick): the keys of a queue with queued tasks, one index
-- descent each (a loose index scan), and each key's tasks in claim order.
CREATE INDEX live_tasks_fair ON pgtq.live_tasks (queue, fairness_key, priority, run_at, id)
  WHERE state = 'queued' AND fairness_key IS NOT NULL;
-- A queue's limit of running tasks per key (pgtq.queues.key_concurrency) counts them here.
CREATE INDEX live_tasks_key_running ON pgtq.live_tasks (queue, fairness_key)
  WHERE state = 'running' AND fairness_key IS NOT NULL;
-- The scheduler's two sweeps.
CREATE INDEX live_tasks_due ON pgtq.live_tasks (run_at) WHERE state = 'scheduled';
CREATE INDEX live_tasks_lease ON pgtq.live_tasks (locked_until) WHERE state = 'running';
-- Unique tasks (12_unique.sql): the database, not a check before the insert, keeps two live
-- tasks of a queue from sharing a key, whoever pushes them at the same instant. Every live
-- state counts: a subset would let a state change (a promotion, a claim, a retry) collide.
CREATE UNIQUE INDEX live_tasks_unique ON pgtq.live_tasks (queue, unique_key)
  WHERE unique_key IS NOT NULL;
COMMENT ON COLUMN pgtq.live_tasks.unique_key IS
  'The task''s unique key (push''s unique_key): no two live tasks of a queue share one.';
-- Finding tasks by tag or metadata (tags @> '{x}', metadata @> '{"k": v}'): only the tasks
-- that have them are indexed, so a task without costs its push nothing here.
CREATE INDEX live_tasks_tags ON pgtq.live_tasks USING gin (tags) WHERE tags IS NOT NULL;
CREATE INDEX live_tasks_metadata ON pgtq.live_tasks USING gin (metadata jsonb_path_ops)
  WHERE metadata IS NOT NULL;
COMMENT ON COLUMN pgtq.live_tasks.tags IS
  'The task''s tags (push''s tags): distinct, sorted, each 1..128 characters, at most 32; NULL: none.';
COMMENT ON COLUMN pgtq.live_tasks.metadata IS
  'The pusher''s JSON object about the task (push''s metadata), not passed to its handler; NULL: none.';
COMMENT ON COLUMN pgtq.live_tasks.depends_on IS
  'The ids of the tasks it depends on (push''s depends_on), distinct and sorted; NULL: none.';
COMMENT ON COLUMN pgtq.live_tasks.on_parent_failure IS
  'When a task it depends on fails for good, is cancelled or deleted: cancel (it is cancelled too) or run (it runs once all have ended); NULL without depends_on.';
COMMENT ON COLUMN pgtq.live_tasks.progress IS
  'How far the task is, as its handler last reported it (task_set_progress, pgtq.report): any JSON, <= 64 KiB, written at most once a second; NULL: never reported.';
COMMENT ON COLUMN pgtq.live_tasks.checkpoint IS
  'What a handler saved for the next attempt (task_set_checkpoint, pgtq.report): any JSON, <= 1 MiB, handed to the next claim; not kept once the task ends.';
COMMENT ON COLUMN pgtq.live_tasks.fairness_key IS
  'The task''s fairness key (push''s fairness_key: a tenant, a customer): claims take turns between a queue''s keys, and pgtq.queues.key_concurrency caps each key''s running tasks.';

-- Partitioned by finished_at, one partition per UTC day (17_history.sql): retention and prune
-- drop a past day's partition whole instead of deleting its rows one by one. The primary key
-- holds finished_at because a partitioned table's unique keys must; ids stay unique all the
-- same, as every id comes from task_id_seq and a task is in one table at a time.
CREATE TABLE pgtq.finished_tasks (
  id            bigint NOT NULL,
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
  timeout       interval,
  unique_key    text,                           -- push's unique_key, kept for unique_states
  fairness_key  text,
  tags          text[],
  metadata      jsonb,
  depends_on    bigint[],
  on_parent_failure text,
  progress      jsonb,
  CONSTRAINT finished_tasks_pkey PRIMARY KEY (id, finished_at),
  CONSTRAINT finished_tasks_state CHECK (state IN ('succeeded', 'failed', 'cancelled'))
) PARTITION BY RANGE (finished_at);
-- Rows arrive in finishing order, so a BRIN index serves pruning by age at almost no cost.
CREATE INDEX finished_tasks_finished_at ON pgtq.finished_tasks USING brin (finished_at);
-- A unique push whose unique_states name finished states looks its key up here.
CREATE INDEX finished_tasks_unique ON pgtq.finished_tasks (queue, unique_key, finished_at)
  WHERE unique_key IS NOT NULL;
CREATE INDEX finished_tasks_tags ON pgtq.finished_tasks USING gin (tags) WHERE tags IS NOT NULL;
CREATE INDEX finished_tasks_metadata ON pgtq.finished_tasks USING gin (metadata jsonb_path_ops)
  WHERE metadata IS NOT NULL;
-- Retention (15_retention.sql) deletes a queue's tasks of one end state oldest first: a range
-- of this index, however much else the history keeps (BRIN would read every old block that
-- holds rows kept longer, at every pass). It also serves listings by queue and state.
CREATE INDEX finished_tasks_retention ON pgtq.finished_tasks (queue, state, finished_at);
-- Tasks that end on a day without a partition of its own (no pgtqd made it ahead) land here,
-- so that recording an outcome never fails for want of a partition; retention deletes them
-- row by row.
CREATE TABLE pgtq.finished_tasks_default PARTITION OF pgtq.finished_tasks DEFAULT;

-- Claim loops that wait for a NOTIFY to learn of new tasks of their queue (09_wake_ups.sql):
-- a push notifies only while one is registered here. pid is the backend of the LISTENing
-- session; a row whose backend is gone is removed by pgtq.tick.
CREATE TABLE pgtq.idle_workers (
  queue  text NOT NULL,
  pid    integer NOT NULL,
  worker text NOT NULL,
  since  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (queue, pid)
);
COMMENT ON TABLE pgtq.idle_workers IS
  'Claim loops waiting for a NOTIFY of their queue; pushes notify only while one is here.';

-- Schedulers (pgtq.tick's callers) asleep until wakes_at (09_wake_ups.sql): a delayed push
-- notifies pgtq_scheduled only when its task is due before a registered scheduler wakes. pid
-- is the scheduler's backend; a row whose backend is gone is removed by pgtq.tick.
CREATE TABLE pgtq.waiting_schedulers (
  pid       integer PRIMARY KEY,
  scheduler text NOT NULL,
  wakes_at  timestamptz NOT NULL,
  since     timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE pgtq.waiting_schedulers IS
  'Schedulers asleep until wakes_at; a delayed push notifies pgtq_scheduled only when its task is due before one wakes.';

-- Queues with settings of their own (11_queues.sql). A queue needs no row to be pushed to or
-- worked: a row appears when an operator changes a setting (pause, resume, a limit).
CREATE TABLE pgtq.queues (
  queue      text PRIMARY KEY,
  paused     boolean NOT NULL DEFAULT false, -- no claims while true; pushes still accepted
  changed_at timestamptz NOT NULL DEFAULT now(),
  global_concurrency integer                 -- at most this many running at once; NULL: no limit
    CONSTRAINT queues_global_concurrency CHECK (global_concurrency BETWEEN 1 AND 100000),
  rate_limit  integer                        -- at most this many claimed per rate_period
    CONSTRAINT queues_rate_limit CHECK (rate_limit BETWEEN 1 AND 1000000),
  rate_period interval
    CONSTRAINT queues_rate_period CHECK (rate_period BETWEEN interval '1 second'
                                                         AND interval '1 day'),
  -- The claims of the last rate_period: when (claim's clock) and how many tasks each took.
  rate_starts timestamptz[] NOT NULL DEFAULT '{}',
  rate_counts integer[] NOT NULL DEFAULT '{}',
  key_concurrency integer                    -- at most this many running per fairness key
    CONSTRAINT queues_key_concurrency CHECK (key_concurrency BETWEEN 1 AND 100000),
  -- What a push that gives none of its own stores (pgtq.set_task_defaults); NULL: the built-in
  -- default (priority 0, 5 attempts, no timeout of the task's own).
  default_priority integer
    CONSTRAINT queues_default_priority CHECK (default_priority BETWEEN -32768 AND 32767),
  default_max_attempts integer
    CONSTRAINT queues_default_max_attempts CHECK (default_max_attempts BETWEEN 1 AND 1000),
  default_timeout interval                   -- as push's timeout (pgtq.timeout_ok)
    CONSTRAINT queues_default_timeout CHECK (extract(year FROM default_timeout) = 0
                                             AND extract(month FROM default_timeout) = 0
                                             AND default_timeout > interval '0'
                                             AND default_timeout <= interval '365 days'),
  key_rate_limit integer                     -- at most this many claimed per fairness key
    CONSTRAINT queues_key_rate_limit CHECK (key_rate_limit BETWEEN 1 AND 1000000),
  key_rate_period interval                   -- ... in any window of this length
    CONSTRAINT queues_key_rate_period CHECK (key_rate_period BETWEEN interval '1 second'
                                                                 AND interval '1 day'),
  -- When the last fair claim saw that a key held back by its rate limit gets room again (its
  -- window's oldest claim leaves it): pgtq.tick wakes the queue from then on.
  key_rate_wake_at timestamptz,
  CONSTRAINT queues_rate CHECK ((rate_limit IS NULL) = (rate_period IS NULL)
                                AND cardinality(rate_starts) = cardinality(rate_counts)),
  CONSTRAINT queues_key_rate CHECK ((key_rate_limit IS NULL) = (key_rate_period IS NULL))
);
COMMENT ON TABLE pgtq.queues IS
  'Queue settings: paused (no claims while true, pushes still accepted), global_concurrency (at most this many tasks running at once across every worker; NULL: no limit), rate_limit per rate_period (at most this many tasks claimed in any window of that length; NULL: no limit), key_concurrency (at most this many tasks of one fairness key running at once; NULL: no limit), default_priority, default_max_attempts and default_timeout (what a push that gives none stores; NULL: 0, 5 and none), key_rate_limit per key_rate_period (at most this many tasks of one fairness key claimed in any window of that length; NULL: no limit) and key_rate_wake_at (when a key held back by it gets room: pgtq.tick wakes the queue from then on). A queue without a row has the defaults.';

-- Where the fair claims of a queue left off (pgtq.fair_pick), per set of task names claimed
-- (task_set, a hash of them): the key served last ('' for the tasks without a key); the next
-- claim starts with the key after it. Written only by claims holding the queue's turn; no row:
-- from the first key.
CREATE TABLE pgtq.fairness_cursors (
  queue      text NOT NULL,
  task_set   bigint NOT NULL,
  last_key   text NOT NULL,
  last_taken integer,   -- tasks last_key took in its turn so far; NULL: its turn is over
  PRIMARY KEY (queue, task_set)
);
COMMENT ON TABLE pgtq.fairness_cursors IS
  'Where the fair claims of each queue and set of task names left off: the fairness key served last ('''' for tasks without a key), and how many tasks it took in its turn so far (NULL: its turn is over).';

-- Weights of fairness keys (16_fairness.sql): a key of weight w takes up to w tasks per turn
-- where the others take theirs; a key without a row has weight 1.
CREATE TABLE pgtq.fairness_weights (
  queue        text NOT NULL,
  fairness_key text NOT NULL,
  weight       integer NOT NULL
    CONSTRAINT fairness_weights_weight CHECK (weight BETWEEN 1 AND 1000),
  changed_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (queue, fairness_key)
);
COMMENT ON TABLE pgtq.fairness_weights IS
  'Weights of fairness keys, per queue: a key of weight w (1..1000) takes up to w tasks per turn of fair claims; a key without a row has weight 1. pgtq.set_key_weight changes them.';

-- The rate windows of fairness keys (16_fairness.sql), for queues with a rate limit per key
-- (pgtq.queues.key_rate_limit): like a queue's rate_starts and rate_counts, the claims of the
-- last key_rate_period that took tasks of the key, when (the claim's clock) and how many. A
-- row per key that started tasks lately; pgtq.apply_retention removes a row an hour after its
-- window emptied (a claim whose turn began before that could still count it).
CREATE TABLE pgtq.key_rate_windows (
  queue        text NOT NULL,
  fairness_key text NOT NULL,
  starts       timestamptz[] NOT NULL,
  counts       integer[] NOT NULL,
  PRIMARY KEY (queue, fairness_key),
  CONSTRAINT key_rate_windows_arrays CHECK (cardinality(starts) = cardinality(counts))
);
COMMENT ON TABLE pgtq.key_rate_windows IS
  'The claims of the last key_rate_period of each fairness key of a queue with a rate limit per key: when (starts) and how many tasks of the key each took (counts). Written by pgtq.claim; pgtq.apply_retention removes rows an hour after their window emptied.';

-- The registry of workers (13_workers.sql): one row per pgtqd, written at every heartbeat.
CREATE TABLE pgtq.workers (
  worker      text NOT NULL,         -- pgtqd's worker name, as in live_tasks.locked_by
  queue       text NOT NULL,
  host        text NOT NULL,
  pid         integer NOT NULL,      -- pgtqd's process id on host (not a backend's)
  version     text NOT NULL,
  concurrency integer NOT NULL,
  isolation   text NOT NULL,         -- process or thread
  heartbeat   interval NOT NULL,     -- how often it writes last_seen
  started_at  timestamptz NOT NULL,
  last_seen   timestamptz NOT NULL,
  -- The task names its plugins handle (NULL: a pgtqd older than 0031, which did not say).
  task_names  text[],
  -- The session its lease renewals run on (13_workers.sql, pgtq.sweep_gone_workers): the
  -- backend's pid and start, and the server's start, so that a pid of a later server run or
  -- a reused pid is never taken for it. NULL: a pgtqd older than 0031, or nothing to rescue.
  session_pid     integer,
  session_started timestamptz,
  server_started  timestamptz,
  -- How long the session may stay gone before the worker's tasks are rescued (NULL: never
  -- early; their leases run out), and since when a sweep has found it gone.
  session_grace   interval,
  session_gone_at timestamptz,
  -- Until then two pgtqd write this row in turn (one worker-name): it is not swept.
  session_shared_until timestamptz,
  -- One name may serve several queues (a worker-name set in a shared config file).
  PRIMARY KEY (worker, queue)
);
COMMENT ON TABLE pgtq.workers IS
  'Workers (pgtqd), the task names each handles, and when each was last heard from; pgtq.live_workers shows those alive.';

-- How long finished tasks are kept (15_retention.sql): one row per queue and end state, and
-- rows with queue NULL for the default of queues without their own. No row: the default's; no
-- default: kept until pruned. keep NULL: kept until pruned, whatever the default says.
CREATE TABLE pgtq.retention (
  queue      text,                   -- NULL: every queue without a row of its own for state
  state      pgtq.task_state NOT NULL
    CONSTRAINT retention_state CHECK (state IN ('succeeded', 'failed', 'cancelled')),
  keep       interval                -- finished this long ago, a task is deleted; NULL: never
    CONSTRAINT retention_keep CHECK (keep >= interval '0'), -- the rest: pgtq.set_retention
  changed_at timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT retention_queue_state UNIQUE NULLS NOT DISTINCT (queue, state)
);
COMMENT ON TABLE pgtq.retention IS
  'How long finished tasks are kept, per queue (NULL: the default) and end state; keep NULL: until pruned. pgtq.set_retention and pgtq.reset_retention change it; pgtqd applies it.';

-- Periodic tasks (18_schedules.sql): each row pushes its task at the fire times of a cron
-- expression in a time zone, or every fixed interval. next_fire_at is the earliest fire time
-- not yet handled; pgtq.tick fires due rows under a row lock and moves it on in the same
-- transaction, so that any number of schedulers push each fire time once. The checks here
-- keep a row written straight into the table sane; pgtq.set_schedule checks the rest (a cron
-- expression that parses, a time zone the server knows).
CREATE TABLE pgtq.schedules (
  name            text PRIMARY KEY
    CONSTRAINT schedules_name CHECK (name ~ '^[A-Za-z0-9_.:-]+$' AND length(name) <= 128),
  queue           text NOT NULL,
  task            text NOT NULL,
  args            jsonb NOT NULL DEFAULT '[]',
  cron            text,                                 -- or every, never both
  every           interval
    CONSTRAINT schedules_every CHECK (every BETWEEN interval '1 second' AND interval '36525 days'),
  time_zone       text NOT NULL DEFAULT 'UTC',          -- of cron's fields; an IANA name
  catch_up        text NOT NULL DEFAULT 'latest'
    CONSTRAINT schedules_catch_up CHECK (catch_up IN ('none', 'latest', 'all')),
  catch_up_within interval NOT NULL DEFAULT interval '1 day'
    CONSTRAINT schedules_catch_up_within CHECK (catch_up_within > interval '0'),
  priority        integer,                              -- NULL: the queue's default
  max_attempts    integer,
  timeout         interval,
  enabled         boolean NOT NULL DEFAULT true,
  next_fire_at    timestamptz,                          -- NULL: disabled
  last_fire_at    timestamptz,                          -- the latest fire time pushed
  last_task_id    bigint,                               -- and its task
  last_error      text,                                 -- why the last fire failed; NULL: it did not
  created_at      timestamptz NOT NULL DEFAULT now(),
  changed_at      timestamptz NOT NULL DEFAULT now(),
  -- 'plugin': as a plugin registered it, updated when the plugin changes it; 'operator': set
  -- or changed through set_schedule, pause_schedule or resume_schedule, never overridden.
  origin          text NOT NULL DEFAULT 'operator'
    CONSTRAINT schedules_origin CHECK (origin IN ('operator', 'plugin')),
  CONSTRAINT schedules_timing CHECK ((cron IS NULL) <> (every IS NULL))
);
CREATE INDEX schedules_due ON pgtq.schedules (next_fire_at) WHERE enabled;
COMMENT ON TABLE pgtq.schedules IS
  'Periodic tasks: each row pushes its task at the fire times of a cron expression (in time_zone) or every fixed interval. pgtq.set_schedule, pause_schedule, resume_schedule and delete_schedule change it; pgtq.tick fires it.';

-- Names of schedules an operator deleted (pgtq.delete_schedule), so that a plugin that ships
-- one of them as a default (pgtq.register_schedule) does not bring it back; set_schedule of
-- the name removes its row.
CREATE TABLE pgtq.deleted_schedules (
  name       text PRIMARY KEY,
  deleted_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE pgtq.deleted_schedules IS
  'Schedules an operator deleted, which plugins'' default schedules do not create again.';

-- Sessions waiting for a task to end (19_task_waits.sql): whatever ends or deletes a task
-- notifies pgtq_ended only while a session is registered here for it. pid is the waiting
-- backend; a row whose backend is gone is removed by pgtq.tick.
CREATE TABLE pgtq.task_waiters (
  task_id bigint NOT NULL,
  pid     integer NOT NULL,
  since   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (task_id, pid)
);
COMMENT ON TABLE pgtq.task_waiters IS
  'Sessions waiting for a task to end (pgtq.watch_task); whatever ends or deletes the task notifies pgtq_ended (payload: its id) while one is here.';

-- What a pending task waits for (20_dependencies.sql): one row per parent, written at its push
-- and settled when the parent ends (its end state and, if it succeeded, its result, kept here
-- so that retention cannot take them from the task before it runs). The rows go when the
-- task ends. parent_state NULL: the parent is still live.
CREATE TABLE pgtq.task_dependencies (
  task_id       bigint NOT NULL,
  parent_id     bigint NOT NULL,
  parent_task   text NOT NULL,
  parent_state  text
    CONSTRAINT task_dependencies_parent_state
      CHECK (parent_state IN ('succeeded', 'failed', 'cancelled', 'deleted')),
  parent_result jsonb,
  PRIMARY KEY (task_id, parent_id)
);
-- Whatever ends a task looks here for the tasks waiting for it.
CREATE INDEX task_dependencies_open ON pgtq.task_dependencies (parent_id)
  WHERE parent_state IS NULL;
COMMENT ON TABLE pgtq.task_dependencies IS
  'The parents of pending tasks (push''s depends_on), settled with their end state and result as they end; rows go when their task ends.';

-- Tasks that ended in a transaction outside READ COMMITTED, whose snapshot cannot be trusted to
-- settle the tasks that depend on them (20_dependencies.sql): pgtq.tick settles them.
CREATE TABLE pgtq.unsettled_ends (
  task_id  bigint PRIMARY KEY,
  ended_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE pgtq.unsettled_ends IS
  'Tasks ended outside READ COMMITTED whose dependents the next pgtq.tick settles.';

-- The queues a role may claim from (22_roles.sql): a session whose login, or the role it SET
-- ROLE to, has a row here claims from that row's queues only (pgtq.claim and pgtq.pop refuse
-- others with 42501); rows of roles it is merely a member of do not count. Keyed by name: a
-- renamed or dropped role leaves its row behind.
CREATE TABLE pgtq.claim_queues (
  role       text PRIMARY KEY,
  queues     text[] NOT NULL,
  changed_at timestamptz NOT NULL DEFAULT now()
);
COMMENT ON TABLE pgtq.claim_queues IS
  'The queues a role may claim from (pgtq.set_claim_queues); roles without a row may claim from any queue.';
