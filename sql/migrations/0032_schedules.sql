-- Periodic tasks (sql/schema/18_schedules.sql): pgtq.schedules holds schedules that push a
-- task at the fire times of a cron expression in a time zone (the server's time zone rules,
-- DST-correct) or every fixed interval, with a catch-up policy for missed fire times.
-- pgtq.set_schedule, pause_schedule, resume_schedule and delete_schedule change them;
-- pgtq.cron_fire_times and pgtq.schedule_fire_times preview fire times. pgtq.tick fires the
-- due ones (pgtq.fire_schedules), each fire time once, with a unique key per schedule and
-- fire time; pgtq.next_due includes the earliest next fire time, so schedulers wake for it.

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

-- One cron field as a bit mask (bit v: value v matches). what starts the message.
CREATE FUNCTION pgtq.cron_field(what text, field text, lo integer, hi integer, names text[])
RETURNS bigint
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  item  text;
  parts text[];
  range text;
  a     integer;
  b     integer;
  step  integer;
  mask  bigint := 0;
  v     integer;
  vals  text[];
BEGIN
  FOREACH item IN ARRAY string_to_array(field, ',') LOOP
    parts := regexp_match(item, '^([^/]+)(?:/([0-9]{1,4}))?$');
    IF parts IS NULL OR parts[2] ~ '^0+$' THEN
      RAISE EXCEPTION '% "%": "%" is not n, n-m, */s, n-m/s or n/s', what, field, item
        USING ERRCODE = 'invalid_parameter_value';
    END IF;
    range := parts[1];
    step := coalesce(parts[2]::integer, 1);
    IF range = '*' THEN
      a := lo; b := hi;
    ELSE
      vals := regexp_match(range, '^([0-9]{1,2}|[A-Za-z]{3})(?:-([0-9]{1,2}|[A-Za-z]{3}))?$');
      IF vals IS NULL THEN
        RAISE EXCEPTION '% "%": "%" is not n, n-m, */s, n-m/s or n/s', what, field, item
          USING ERRCODE = 'invalid_parameter_value';
      END IF;
      a := CASE WHEN vals[1] ~ '^[0-9]' THEN vals[1]::integer
                ELSE array_position(names, upper(vals[1])) - 1 + lo END;
      b := CASE WHEN vals[2] IS NULL THEN CASE WHEN parts[2] IS NULL THEN a ELSE hi END
                WHEN vals[2] ~ '^[0-9]' THEN vals[2]::integer
                ELSE array_position(names, upper(vals[2])) - 1 + lo END;
      IF a IS NULL OR b IS NULL OR a NOT BETWEEN lo AND hi OR b NOT BETWEEN lo AND hi
         OR a > b THEN
        RAISE EXCEPTION '% "%": "%" is not a range within % to %', what, field, item, lo, hi
          USING ERRCODE = 'invalid_parameter_value';
      END IF;
    END IF;
    v := a;
    WHILE v <= b LOOP
      mask := mask | (1::bigint << v);
      v := v + step;
    END LOOP;
  END LOOP;
  RETURN mask;
END $$;

-- A cron expression parsed: {seconds, minutes, hours, days of month, months, days of week,
-- flags} as bit masks; flags: 1 day of month restricted, 2 day of week restricted, 4 every
-- hour. Raises 22004 for NULL, 22023 naming the field for anything else it cannot read.
CREATE FUNCTION pgtq.cron_parse(what text, cron text) RETURNS bigint[]
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  f     text[];
  expr  text;
  hours bigint;
  dow   bigint;
BEGIN
  IF cron IS NULL THEN
    RAISE EXCEPTION '%: cron must not be NULL', what USING ERRCODE = 'null_value_not_allowed';
  END IF;
  IF length(cron) > 1024 THEN
    RAISE EXCEPTION '%: cron must be at most 1024 characters long', what
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  expr := CASE lower(btrim(cron))
            WHEN '@yearly' THEN '0 0 1 1 *' WHEN '@annually' THEN '0 0 1 1 *'
            WHEN '@monthly' THEN '0 0 1 * *' WHEN '@weekly' THEN '0 0 * * 0'
            WHEN '@daily' THEN '0 0 * * *' WHEN '@midnight' THEN '0 0 * * *'
            WHEN '@hourly' THEN '0 * * * *' ELSE btrim(cron) END;
  f := regexp_split_to_array(expr, '\s+');
  IF cardinality(f) = 5 THEN
    f := '0'::text || f;
  ELSIF cardinality(f) <> 6 THEN
    RAISE EXCEPTION '%: cron must have 5 fields (minute hour day-of-month month day-of-week) or 6 (seconds first), got "%"',
      what, cron USING ERRCODE = 'invalid_parameter_value';
  END IF;
  hours := pgtq.cron_field(what || ': cron''s hour field', f[3], 0, 23, NULL);
  dow := pgtq.cron_field(what || ': cron''s day-of-week field', f[6], 0, 7,
                         '{SUN,MON,TUE,WED,THU,FRI,SAT}');
  RETURN ARRAY[
    pgtq.cron_field(what || ': cron''s seconds field', f[1], 0, 59, NULL),
    pgtq.cron_field(what || ': cron''s minute field', f[2], 0, 59, NULL),
    hours,
    pgtq.cron_field(what || ': cron''s day-of-month field', f[4], 1, 31, NULL),
    pgtq.cron_field(what || ': cron''s month field', f[5], 1, 12,
                    '{JAN,FEB,MAR,APR,MAY,JUN,JUL,AUG,SEP,OCT,NOV,DEC}'),
    (dow | (dow >> 7)) & 127, -- 7 is Sunday too
    (CASE WHEN f[4] LIKE '*%' THEN 0 ELSE 1 END)
      | (CASE WHEN f[6] LIKE '*%' THEN 0 ELSE 2 END)
      | (CASE WHEN hours = 16777215 THEN 4 ELSE 0 END)];
END $$;

-- The first wall-clock time after after that parsed (cron_parse's answer) matches; NULL when
-- none does within 10 years (0 0 30 2 *).
CREATE FUNCTION pgtq.cron_next_local(parsed bigint[], after timestamp) RETURNS timestamp
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  t      timestamp := date_trunc('second', after) + interval '1 second';
  day_ok boolean;
  dom    boolean;
  dow    boolean;
BEGIN
  WHILE t < after + interval '10 years' LOOP
    IF (parsed[5] >> extract(month FROM t)::integer) & 1 = 0 THEN
      t := date_trunc('month', t) + interval '1 month';
      CONTINUE;
    END IF;
    dom := (parsed[4] >> extract(day FROM t)::integer) & 1 = 1;
    dow := (parsed[6] >> extract(dow FROM t)::integer) & 1 = 1;
    -- Vixie cron: either day field when both are restricted, else both (a field starting
    -- with * restricts nothing by this rule, whatever its step).
    day_ok := CASE WHEN parsed[7] & 3 = 3 THEN dom OR dow ELSE dom AND dow END;
    IF NOT day_ok THEN
      t := date_trunc('day', t) + interval '1 day';
      CONTINUE;
    END IF;
    IF (parsed[3] >> extract(hour FROM t)::integer) & 1 = 0 THEN
      t := date_trunc('hour', t) + interval '1 hour';
      CONTINUE;
    END IF;
    IF (parsed[2] >> extract(minute FROM t)::integer) & 1 = 0 THEN
      t := date_trunc('minute', t) + interval '1 minute';
      CONTINUE;
    END IF;
    IF (parsed[1] >> floor(extract(second FROM t))::integer) & 1 = 0 THEN
      t := t + interval '1 second';
      CONTINUE;
    END IF;
    RETURN t;
  END LOOP;
  RETURN NULL;
END $$;

-- How far time_zone's clock is ahead of UTC at instant at (negative west of Greenwich).
CREATE FUNCTION pgtq.utc_offset(at timestamptz, time_zone text) RETURNS interval
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT (at AT TIME ZONE time_zone) - (at AT TIME ZONE 'UTC')
$$;

-- The fire instants of wall-clock time local in time_zone, earliest first: none, one, or
-- (clocks going back, every hour) two. See the top of this file.
CREATE FUNCTION pgtq.cron_instants(parsed bigint[], time_zone text, local timestamp)
RETURNS timestamptz[]
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  guess  timestamptz := local AT TIME ZONE time_zone;
  before interval; -- the offset from UTC a day earlier, and a day later
  after  interval;
  a      timestamptz;
  b      timestamptz;
  a_ok   boolean;
  b_ok   boolean;
BEGIN
  before := pgtq.utc_offset(guess - interval '1 day', time_zone);
  after := pgtq.utc_offset(guess + interval '1 day', time_zone);
  a := (local - before) AT TIME ZONE 'UTC';
  b := (local - after) AT TIME ZONE 'UTC';
  a_ok := (a AT TIME ZONE time_zone) = local;
  b_ok := (b AT TIME ZONE time_zone) = local;
  IF a_ok AND b_ok AND a <> b THEN -- clocks went back: local came twice
    RETURN CASE WHEN parsed[7] & 4 = 4 THEN ARRAY[least(a, b), greatest(a, b)]
                ELSE ARRAY[least(a, b)] END;
  ELSIF a_ok THEN
    RETURN ARRAY[a];
  ELSIF b_ok THEN
    RETURN ARRAY[b];
  END IF;
  -- Clocks skipped local: shifted by the skip, unless every hour fires anyway.
  RETURN CASE WHEN parsed[7] & 4 = 4 THEN '{}'::timestamptz[] ELSE ARRAY[a] END;
END $$;

-- The first fire time after after of a parsed cron expression in time_zone; NULL when none
-- comes within 10 years. Wall-clock times are walked in order from after's; clock changes
-- near after or the answer make three corrections.
CREATE FUNCTION pgtq.cron_next(parsed bigint[], time_zone text, after timestamptz)
RETURNS timestamptz
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  local timestamp := after AT TIME ZONE time_zone;
  best  timestamptz;
  cand  timestamptz;
  shift interval;
  stop  timestamp;
BEGIN
  -- 1. Clocks that skipped within the last shift before after: a skipped wall-clock time
  -- before after's fires shifted by the skip, possibly after after.
  IF parsed[7] & 4 = 0 THEN
    shift := pgtq.utc_offset(after, time_zone)
             - pgtq.utc_offset(after - interval '1 day', time_zone);
    IF shift > interval '0'
       AND pgtq.utc_offset(after - shift, time_zone) <> pgtq.utc_offset(after, time_zone) THEN
      local := local - shift;
    END IF;
  END IF;
  WHILE best IS NULL LOOP
    local := pgtq.cron_next_local(parsed, local);
    IF local IS NULL THEN
      RETURN NULL;
    END IF;
    SELECT min(i) INTO best FROM unnest(pgtq.cron_instants(parsed, time_zone, local)) AS i
     WHERE i > after;
  END LOOP;
  -- 2. best is a skipped wall-clock time, shifted: a wall-clock time after the skip, later
  -- than local but shown before best, comes sooner (a 30-minute skip: 02:20 fires at 02:50,
  -- after 02:40).
  IF parsed[7] & 4 = 0 AND (best AT TIME ZONE time_zone) <> local THEN
    stop := best AT TIME ZONE time_zone;
    LOOP
      local := pgtq.cron_next_local(parsed, local);
      EXIT WHEN local IS NULL OR local >= stop;
      SELECT min(i) INTO cand FROM unnest(pgtq.cron_instants(parsed, time_zone, local)) AS i
       WHERE i > after;
      IF cand < best THEN
        best := cand;
      END IF;
    END LOOP;
  END IF;
  -- 3. Clocks that went back between after and best repeat wall-clock times before after's:
  -- an every-hour schedule fires in the repeated pass too, earlier than best.
  IF parsed[7] & 4 = 4 THEN
    shift := pgtq.utc_offset(after, time_zone) - pgtq.utc_offset(best, time_zone);
    IF shift > interval '0' THEN
      local := (after AT TIME ZONE time_zone) - shift - interval '1 second';
      stop := after AT TIME ZONE time_zone;
      LOOP
        local := pgtq.cron_next_local(parsed, local);
        EXIT WHEN local IS NULL OR local > stop;
        SELECT min(i) INTO cand FROM unnest(pgtq.cron_instants(parsed, time_zone, local)) AS i
         WHERE i > after;
        IF cand < best THEN
          RETURN cand;
        END IF;
      END LOOP;
    END IF;
  END IF;
  RETURN best;
END $$;

-- The first fire time after after of a schedule: parsed cron in time_zone, or every.
CREATE FUNCTION pgtq.schedule_next(parsed bigint[], every interval, time_zone text,
                                   after timestamptz) RETURNS timestamptz
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT CASE WHEN every IS NOT NULL
              THEN to_timestamp(((floor(extract(epoch FROM after) / extract(epoch FROM every)) + 1)
                                 * extract(epoch FROM every))::float8)
              ELSE pgtq.cron_next(parsed, time_zone, after) END
$$;

-- Raises unless time_zone is one the server knows. what starts the message.
CREATE FUNCTION pgtq.check_time_zone(what text, time_zone text) RETURNS void
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF time_zone IS NULL THEN
    RAISE EXCEPTION '%: time_zone must not be NULL', what USING ERRCODE = 'null_value_not_allowed';
  END IF;
  IF NOT EXISTS (SELECT 1 FROM pg_timezone_names z WHERE z.name = time_zone) THEN
    RAISE EXCEPTION '%: time_zone "%" is not a time zone name the server knows (pg_timezone_names)',
      what, left(time_zone, 200) USING ERRCODE = 'invalid_parameter_value';
  END IF;
END $$;

-- Raises unless every is a fixed duration of 1 second to 100 years. what starts the message.
CREATE FUNCTION pgtq.check_every(what text, every interval) RETURNS void
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF extract(month FROM every) <> 0 OR extract(year FROM every) <> 0 THEN
    RAISE EXCEPTION '%: every must be a fixed duration without months or years (use cron for calendar schedules), got %',
      what, every USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF NOT (every BETWEEN interval '1 second' AND interval '36525 days') THEN
    RAISE EXCEPTION '%: every must be between 1 second and 100 years, got %', what, every
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
END $$;

-- Raises unless a preview's count is 1..1000 and after a finite time. what starts the message.
CREATE FUNCTION pgtq.check_preview(what text, count integer, after timestamptz) RETURNS void
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF count IS NULL OR after IS NULL THEN
    RAISE EXCEPTION '%: % must not be NULL', what,
      CASE WHEN count IS NULL THEN 'count' ELSE 'after' END USING ERRCODE = 'null_value_not_allowed';
  END IF;
  IF count NOT BETWEEN 1 AND 1000 THEN
    RAISE EXCEPTION '%: count must be between 1 and 1000, got %', what, count
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF NOT isfinite(after) THEN
    RAISE EXCEPTION '%: after must be a finite time', what
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
END $$;

-- The next count (1..1000) fire times after after (default now) of a cron expression in
-- time_zone (default UTC): a preview.
CREATE FUNCTION pgtq.cron_fire_times(cron text, time_zone text DEFAULT 'UTC',
                                     count integer DEFAULT 5, after timestamptz DEFAULT now())
RETURNS SETOF timestamptz
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  parsed bigint[] := pgtq.cron_parse('pgtq.cron_fire_times', cron);
  at     timestamptz := cron_fire_times.after;
BEGIN
  PERFORM pgtq.check_time_zone('pgtq.cron_fire_times', time_zone);
  PERFORM pgtq.check_preview('pgtq.cron_fire_times', count, after);
  FOR i IN 1..count LOOP
    at := pgtq.cron_next(parsed, time_zone, at);
    EXIT WHEN at IS NULL;
    RETURN NEXT at;
  END LOOP;
END $$;
COMMENT ON FUNCTION pgtq.cron_fire_times(text, text, integer, timestamptz) IS
'The next count (1..1000, default 5) fire times after after (default now()) of a cron expression (5 fields, or 6 with seconds first; @daily and the like) in time_zone (default UTC, a name of pg_timezone_names), earliest first; fewer when it fires less often than once in 10 years. Errors: 22004 NULL, 22023 bad expression (the message names the field), time zone, count or after.';

-- Creates or changes the schedule name (1..128 characters of [A-Za-z0-9_.:-]) and returns
-- its next fire time. Exactly one of cron and every. A schedule whose cron, every or
-- time_zone is unchanged keeps its next fire time (a deploy that sets it again loses no fire);
-- a changed one fires next after now. See the top of this file for the rest.
CREATE FUNCTION pgtq.set_schedule(
  name            text,
  queue           text,
  task            text,
  args            jsonb DEFAULT '[]',
  cron            text DEFAULT NULL,
  every           interval DEFAULT NULL,
  time_zone       text DEFAULT 'UTC',
  catch_up        text DEFAULT 'latest',
  catch_up_within interval DEFAULT interval '1 day',
  priority        integer DEFAULT NULL,
  max_attempts    integer DEFAULT NULL,
  timeout         interval DEFAULT NULL,
  enabled         boolean DEFAULT true
) RETURNS timestamptz
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  parsed bigint[];
  next_at timestamptz;
  old    pgtq.schedules;
BEGIN
  PERFORM pgtq.check_name('schedule', set_schedule.name);
  PERFORM pgtq.check_name('queue', set_schedule.queue);
  PERFORM pgtq.check_task(set_schedule.task, set_schedule.args,
                          coalesce(set_schedule.priority, 0),
                          coalesce(set_schedule.max_attempts, 5));
  PERFORM pgtq.check_timeout('pgtq.set_schedule: timeout', set_schedule.timeout);
  IF (set_schedule.cron IS NULL) = (set_schedule.every IS NULL) THEN
    RAISE EXCEPTION 'pgtq.set_schedule: exactly one of cron and every must be given'
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF set_schedule.cron IS NOT NULL THEN
    parsed := pgtq.cron_parse('pgtq.set_schedule', set_schedule.cron);
  ELSE
    PERFORM pgtq.check_every('pgtq.set_schedule', set_schedule.every);
  END IF;
  PERFORM pgtq.check_time_zone('pgtq.set_schedule', set_schedule.time_zone);
  IF set_schedule.catch_up IS NULL OR set_schedule.catch_up_within IS NULL
     OR set_schedule.enabled IS NULL THEN
    RAISE EXCEPTION 'pgtq.set_schedule: % must not be NULL',
      CASE WHEN set_schedule.catch_up IS NULL THEN 'catch_up'
           WHEN set_schedule.catch_up_within IS NULL THEN 'catch_up_within'
           ELSE 'enabled' END USING ERRCODE = 'null_value_not_allowed';
  END IF;
  IF set_schedule.catch_up NOT IN ('none', 'latest', 'all') THEN
    RAISE EXCEPTION 'pgtq.set_schedule: catch_up must be none, latest or all, got "%"',
      left(set_schedule.catch_up, 100) USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF NOT (set_schedule.catch_up_within BETWEEN interval '1 second' AND interval '100 years') THEN
    RAISE EXCEPTION 'pgtq.set_schedule: catch_up_within must be between 1 second and 100 years, got %',
      set_schedule.catch_up_within USING ERRCODE = 'invalid_parameter_value';
  END IF;
  next_at := pgtq.schedule_next(parsed, set_schedule.every, set_schedule.time_zone, now());
  IF next_at IS NULL THEN
    RAISE EXCEPTION 'pgtq.set_schedule: cron "%" fires less often than once in 10 years',
      set_schedule.cron USING ERRCODE = 'invalid_parameter_value';
  END IF;
  SELECT * INTO old FROM pgtq.schedules s WHERE s.name = set_schedule.name FOR UPDATE;
  IF FOUND AND old.enabled AND set_schedule.enabled AND old.next_fire_at IS NOT NULL
     AND old.cron IS NOT DISTINCT FROM set_schedule.cron
     AND old.every IS NOT DISTINCT FROM set_schedule.every
     AND old.time_zone = set_schedule.time_zone THEN
    next_at := old.next_fire_at;
  END IF;
  INSERT INTO pgtq.schedules AS s (name, queue, task, args, cron, every, time_zone, catch_up,
                                   catch_up_within, priority, max_attempts, timeout, enabled,
                                   next_fire_at)
  VALUES (set_schedule.name, set_schedule.queue, set_schedule.task, set_schedule.args,
          set_schedule.cron, set_schedule.every, set_schedule.time_zone, set_schedule.catch_up,
          set_schedule.catch_up_within, set_schedule.priority, set_schedule.max_attempts,
          set_schedule.timeout, set_schedule.enabled,
          CASE WHEN set_schedule.enabled THEN next_at END)
  ON CONFLICT ON CONSTRAINT schedules_pkey DO UPDATE
    SET queue = excluded.queue, task = excluded.task, args = excluded.args,
        cron = excluded.cron, every = excluded.every, time_zone = excluded.time_zone,
        catch_up = excluded.catch_up, catch_up_within = excluded.catch_up_within,
        priority = excluded.priority, max_attempts = excluded.max_attempts,
        timeout = excluded.timeout, enabled = excluded.enabled,
        next_fire_at = excluded.next_fire_at, changed_at = now(), origin = 'operator';
  DELETE FROM pgtq.deleted_schedules d WHERE d.name = set_schedule.name;
  IF set_schedule.enabled THEN
    PERFORM pgtq.wake_schedulers(next_at);
    RETURN next_at;
  END IF;
  RETURN NULL;
END $$;
COMMENT ON FUNCTION pgtq.set_schedule(text, text, text, jsonb, text, interval, text, text, interval, integer, integer, interval, boolean) IS
'Creates or changes schedule name (1..128 characters of [A-Za-z0-9_.:-]): push task to queue with args at each fire time of cron (5 fields, or 6 with seconds first, in time_zone: a name of pg_timezone_names, default UTC) or every (a fixed duration, 1 second..100 years; fire times are its multiples since 1970-01-01 UTC); exactly one of the two. catch_up for missed fire times: latest (default, the newest only), all (each, at most 1000 per pass), none; latest and all skip fire times older than catch_up_within (1 second..100 years, default 1 day). priority, max_attempts, timeout: as pgtq.push (NULL: the queue''s defaults). enabled false: stored paused. Returns the next fire time (NULL when paused); an unchanged cron, every and time_zone keep it. Errors: 22004 NULL, 22023 bad value (the message names it), 54000 args too large.';

-- Pauses schedule name: it fires nothing until resume_schedule. Returns true when it was
-- enabled.
CREATE FUNCTION pgtq.pause_schedule(name text) RETURNS boolean
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  PERFORM pgtq.check_name('schedule', pause_schedule.name);
  UPDATE pgtq.schedules s SET enabled = false, next_fire_at = NULL, changed_at = now(),
                              origin = 'operator'
   WHERE s.name = pause_schedule.name AND s.enabled;
  RETURN FOUND;
END $$;
COMMENT ON FUNCTION pgtq.pause_schedule(text) IS
'Pauses schedule name: it fires nothing until pgtq.resume_schedule. Returns true when it was enabled, false when paused already or not found. Errors: 22004 NULL, 22023 bad name.';

-- Resumes schedule name from its next fire time after now (fire times while it was paused
-- are skipped). Returns that time; NULL when there is no such schedule or it was enabled.
CREATE FUNCTION pgtq.resume_schedule(name text) RETURNS timestamptz
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  s    pgtq.schedules;
  next_at timestamptz;
BEGIN
  PERFORM pgtq.check_name('schedule', resume_schedule.name);
  SELECT * INTO s FROM pgtq.schedules x WHERE x.name = resume_schedule.name AND NOT x.enabled
     FOR UPDATE;
  IF NOT FOUND THEN
    RETURN NULL;
  END IF;
  next_at := pgtq.schedule_next(CASE WHEN s.cron IS NOT NULL
                                  THEN pgtq.cron_parse('pgtq.resume_schedule', s.cron) END,
                             s.every, s.time_zone, now());
  UPDATE pgtq.schedules x SET enabled = true, next_fire_at = next_at, changed_at = now(),
                              origin = 'operator'
   WHERE x.name = resume_schedule.name;
  PERFORM pgtq.wake_schedulers(next_at);
  RETURN next_at;
END $$;
COMMENT ON FUNCTION pgtq.resume_schedule(text) IS
'Resumes paused schedule name from its next fire time after now() (fire times while paused are skipped) and returns that time; NULL when it is not found or not paused. Errors: 22004 NULL, 22023 bad name.';

-- Deletes schedule name; tasks it pushed stay. Returns true when it existed. A plugin's
-- default schedule of that name is not created again (pgtq.deleted_schedules) until
-- set_schedule sets the name.
CREATE FUNCTION pgtq.delete_schedule(name text) RETURNS boolean
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  PERFORM pgtq.check_name('schedule', delete_schedule.name);
  DELETE FROM pgtq.schedules s WHERE s.name = delete_schedule.name;
  IF NOT FOUND THEN
    RETURN false;
  END IF;
  INSERT INTO pgtq.deleted_schedules AS d (name) VALUES (delete_schedule.name)
  ON CONFLICT ON CONSTRAINT deleted_schedules_pkey DO UPDATE SET deleted_at = now();
  RETURN true;
END $$;
COMMENT ON FUNCTION pgtq.delete_schedule(text) IS
'Deletes schedule name; the tasks it pushed stay, and a plugin''s default schedule of that name is not created again until pgtq.set_schedule sets it. Returns true when it existed. Errors: 22004 NULL, 22023 bad name.';

-- A plugin's default schedule (plugin.h's register_schedule, which pgtqd passes on when it
-- loads its plugins): created when the name is free, updated while its row is still the
-- plugin's (origin 'plugin'), left alone once an operator set, paused or resumed it (origin
-- 'operator') or deleted it (pgtq.deleted_schedules). Arguments as set_schedule's. Returns
-- what it did: created, updated, unchanged, kept (an operator's), or deleted (by an operator).
CREATE FUNCTION pgtq.register_schedule(name text, queue text, task text, args jsonb,
                                       cron text, every interval, time_zone text,
                                       catch_up text) RETURNS text
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  s       pgtq.schedules;
  existed boolean;
BEGIN
  PERFORM pgtq.check_name('schedule', register_schedule.name);
  -- One registration of a name at a time: daemons starting together create it once.
  PERFORM pg_advisory_xact_lock(1885828209, hashtext(register_schedule.name));
  IF EXISTS (SELECT 1 FROM pgtq.deleted_schedules d WHERE d.name = register_schedule.name) THEN
    RETURN 'deleted';
  END IF;
  SELECT * INTO s FROM pgtq.schedules x WHERE x.name = register_schedule.name FOR UPDATE;
  existed := FOUND;
  IF existed AND s.origin = 'operator' THEN
    RETURN 'kept';
  END IF;
  IF existed AND s.queue = register_schedule.queue AND s.task = register_schedule.task
     AND s.args = coalesce(register_schedule.args, '[]')
     AND s.cron IS NOT DISTINCT FROM register_schedule.cron
     AND s.every IS NOT DISTINCT FROM register_schedule.every
     AND s.time_zone = coalesce(register_schedule.time_zone, 'UTC')
     AND s.catch_up = coalesce(register_schedule.catch_up, 'latest') THEN
    RETURN 'unchanged';
  END IF;
  PERFORM pgtq.set_schedule(register_schedule.name, register_schedule.queue,
                            register_schedule.task, coalesce(register_schedule.args, '[]'),
                            cron => register_schedule.cron, every => register_schedule.every,
                            time_zone => coalesce(register_schedule.time_zone, 'UTC'),
                            catch_up => coalesce(register_schedule.catch_up, 'latest'));
  UPDATE pgtq.schedules x SET origin = 'plugin' WHERE x.name = register_schedule.name;
  RETURN CASE WHEN existed THEN 'updated' ELSE 'created' END;
END $$;
COMMENT ON FUNCTION pgtq.register_schedule(text, text, text, jsonb, text, interval, text, text) IS
'A plugin''s default schedule, as pgtqd registers it: created when the name is free, updated while no operator changed it, never overriding an operator''s set_schedule, pause, resume or delete. args NULL: []; time_zone NULL: UTC; catch_up NULL: latest; the rest as pgtq.set_schedule. Returns created, updated, unchanged, kept or deleted. Errors: as pgtq.set_schedule.';

-- The next count (1..1000) fire times of schedule name after after (default now); none when
-- it does not exist.
CREATE FUNCTION pgtq.schedule_fire_times(name text, count integer DEFAULT 5,
                                         after timestamptz DEFAULT now())
RETURNS SETOF timestamptz
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  s      pgtq.schedules;
  parsed bigint[];
  at     timestamptz := schedule_fire_times.after;
BEGIN
  PERFORM pgtq.check_name('schedule', schedule_fire_times.name);
  PERFORM pgtq.check_preview('pgtq.schedule_fire_times', count, after);
  SELECT * INTO s FROM pgtq.schedules x WHERE x.name = schedule_fire_times.name;
  IF NOT FOUND THEN
    RETURN;
  END IF;
  parsed := CASE WHEN s.cron IS NOT NULL
                 THEN pgtq.cron_parse('pgtq.schedule_fire_times', s.cron) END;
  FOR i IN 1..count LOOP
    at := pgtq.schedule_next(parsed, s.every, s.time_zone, at);
    EXIT WHEN at IS NULL;
    RETURN NEXT at;
  END LOOP;
END $$;
COMMENT ON FUNCTION pgtq.schedule_fire_times(text, integer, timestamptz) IS
'The next count (1..1000, default 5) fire times of schedule name after after (default now()), earliest first, whether it is paused or not; no rows when it does not exist. Errors: 22004 NULL, 22023 bad name, count or after.';

-- Fires the due schedules: at most max_count of them, each as its catch_up says (the top of
-- this file), and moves their next_fire_at on. Called by pgtq.tick, one caller at a time; a
-- schedule whose row someone else holds is skipped until the next pass. A schedule whose
-- fire fails (a row written straight into the table with a bad cron, a queue name push
-- refuses) records why in last_error and moves on to its next fire time: no row can make
-- the tick fail. Returns how many tasks it pushed.
CREATE FUNCTION pgtq.fire_schedules(max_count integer) RETURNS integer
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  s       pgtq.schedules;
  now_at  timestamptz;
  parsed  bigint[];
  fires   timestamptz[];
  f       timestamptz;
  g       timestamptz;
  lo      timestamptz;
  start   timestamptz;
  w       interval;
  task_id bigint;
  pushed  integer := 0;
BEGIN
  FOR s IN SELECT * FROM pgtq.schedules x
            WHERE x.enabled AND x.next_fire_at <= clock_timestamp()
            ORDER BY x.next_fire_at LIMIT max_count FOR UPDATE SKIP LOCKED LOOP
    BEGIN
      now_at := clock_timestamp();
      parsed := CASE WHEN s.cron IS NOT NULL
                     THEN pgtq.cron_parse('pgtq.fire_schedules', s.cron) END;
      fires := '{}';
      IF s.catch_up = 'all' THEN
        f := pgtq.schedule_next(parsed, s.every, s.time_zone,
                                greatest(s.next_fire_at, now_at - s.catch_up_within)
                                - interval '1 microsecond');
        WHILE f <= now_at AND cardinality(fires) < 1000 LOOP
          fires := fires || f;
          f := pgtq.schedule_next(parsed, s.every, s.time_zone, f);
        END LOOP;
      ELSE
        -- The newest fire time due: looked for in windows that grow back from now, so that
        -- an every-second schedule stopped for a week does not walk through its week.
        lo := greatest(s.next_fire_at,
                       now_at - CASE WHEN s.catch_up = 'none' THEN interval '1 minute'
                                     ELSE s.catch_up_within END);
        FOREACH w IN ARRAY ARRAY[interval '1 minute', interval '1 hour', interval '1 day',
                                 interval '32 days', interval '400 days', interval '100 years']
        LOOP
          start := greatest(lo, now_at - w);
          f := pgtq.schedule_next(parsed, s.every, s.time_zone, start - interval '1 microsecond');
          IF f <= now_at THEN
            LOOP
              g := pgtq.schedule_next(parsed, s.every, s.time_zone, f);
              EXIT WHEN g IS NULL OR g > now_at;
              f := g;
            END LOOP;
            fires := ARRAY[f];
            EXIT;
          END IF;
          EXIT WHEN start = lo;
        END LOOP;
      END IF;
      FOREACH f IN ARRAY fires LOOP
        task_id := pgtq.push(s.queue, s.task, s.args, run_at => f, priority => s.priority,
                             max_attempts => s.max_attempts, timeout => s.timeout,
                             unique_key => 'pgtq.schedule:' || s.name || '@'
                                           || to_char(f AT TIME ZONE 'UTC',
                                                      'YYYY-MM-DD"T"HH24:MI:SS.US"Z"'),
                             unique_states => enum_range(NULL::pgtq.task_state));
        pushed := pushed + 1;
      END LOOP;
      UPDATE pgtq.schedules x
         SET next_fire_at = pgtq.schedule_next(
               parsed, s.every, s.time_zone,
               CASE WHEN s.catch_up = 'all' AND cardinality(fires) = 1000
                    THEN fires[1000] ELSE now_at END),
             last_fire_at = coalesce(fires[cardinality(fires)], x.last_fire_at),
             last_task_id = CASE WHEN cardinality(fires) > 0 THEN task_id ELSE x.last_task_id END,
             last_error = NULL
       WHERE x.name = s.name;
    EXCEPTION WHEN OTHERS THEN
      UPDATE pgtq.schedules x
         SET next_fire_at = clock_timestamp() + interval '1 minute', -- computes nothing
             last_error = left(SQLERRM, 1024)
       WHERE x.name = s.name;
    END;
  END LOOP;
  RETURN pushed;
END $$;
COMMENT ON FUNCTION pgtq.fire_schedules(integer) IS
'Fires the due schedules (at most max_count), as their catch_up says, and moves their next_fire_at on; returns how many tasks it pushed. pgtq.tick calls it; a fire that fails records last_error and moves on.';

CREATE OR REPLACE FUNCTION pgtq.tick(max_count integer DEFAULT 10000,
                          OUT promoted integer, OUT rescued integer,
                          OUT failed integer, OUT next_due timestamptz)
LANGUAGE plpgsql SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  wake        text[];
  rescue_wake text[];
  ended       text[]; -- the queues of the expired tasks that ended
BEGIN
  IF max_count IS NULL THEN
    RAISE EXCEPTION 'pgtq.tick: max_count must not be NULL' USING ERRCODE = 'null_value_not_allowed';
  END IF;
  IF max_count NOT BETWEEN 1 AND 100000 THEN
    RAISE EXCEPTION 'pgtq.tick: max_count must be between 1 and 100000, got %', max_count
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  promoted := 0; rescued := 0; failed := 0;
  IF pg_try_advisory_xact_lock(hashtext('pgtq.tick')) THEN
    PERFORM pgtq.fire_schedules(max_count);
    WITH due AS (
      SELECT l.id FROM pgtq.live_tasks l
       WHERE l.state = 'scheduled' AND l.run_at <= clock_timestamp()
       ORDER BY l.run_at LIMIT max_count FOR UPDATE SKIP LOCKED
    ), moved AS (
      UPDATE pgtq.live_tasks l SET state = 'queued' FROM due WHERE l.id = due.id
      RETURNING l.queue
    )
    SELECT count(*), array_agg(DISTINCT queue) INTO promoted, wake FROM moved;

    WITH expired AS (
      SELECT l.id FROM pgtq.live_tasks l
       WHERE l.state = 'running' AND l.locked_until < clock_timestamp()
       ORDER BY l.locked_until LIMIT max_count FOR UPDATE SKIP LOCKED
    ), ending AS (
      DELETE FROM pgtq.live_tasks l USING expired
       WHERE l.id = expired.id AND (l.attempts >= l.max_attempts OR l.cancel_requested)
      RETURNING l AS task
    ), stored AS (
      INSERT INTO pgtq.finished_tasks
      SELECT (pgtq.finished_row(
                e.task,
                CASE WHEN (e.task).cancel_requested THEN 'cancelled'
                     ELSE 'failed' END::pgtq.task_state,
                NULL,
                'lease expired: worker ' || coalesce(left((e.task).locked_by, 1024), '?')
                  || ' stopped renewing it',
                true)).*
        FROM ending e
      RETURNING queue
    ), back AS (
      UPDATE pgtq.live_tasks l
         SET state = 'queued', run_at = clock_timestamp(), locked_until = NULL, claim = NULL,
             last_error = 'lease expired: worker ' || coalesce(left(l.locked_by, 1024), '?')
                          || ' stopped renewing it',
             errors = CASE WHEN jsonb_typeof(l.errors) = 'array' AND jsonb_array_length(l.errors) < 100
                     THEN l.errors ELSE pgtq.recent_errors(l.errors) END || jsonb_build_array(jsonb_build_object(
               'attempt', l.attempts, 'at', clock_timestamp(),
               'error', 'lease expired: worker ' || coalesce(left(l.locked_by, 1024), '?')
                        || ' stopped renewing it')),
             locked_by = NULL
        FROM expired
       WHERE l.id = expired.id AND l.attempts < l.max_attempts AND NOT l.cancel_requested
      RETURNING l.queue
    )
    SELECT (SELECT count(*) FROM back), (SELECT count(*) FROM stored),
           (SELECT array_agg(DISTINCT queue) FROM back), (SELECT array_agg(queue) FROM stored)
      INTO rescued, failed, rescue_wake, ended;
    IF ended IS NOT NULL THEN
      PERFORM pgtq.wake_limited(ended); -- a failed task of a limited queue leaves room
    END IF;

    -- A channel payload must be shorter than 8000 bytes; a valid queue name always is.
    PERFORM pgtq.wake_queue(q)
       FROM (SELECT unnest(coalesce(wake, '{}') || coalesce(rescue_wake, '{}')) AS q) w
      WHERE octet_length(q) < 7900
      GROUP BY q;
    -- A rate-limited queue whose claims came back short gets room as its window moves on,
    -- which nobody else announces (11_queues.sql).
    PERFORM pgtq.wake_queue(q.queue) FROM pgtq.queues q
     WHERE q.rate_limit IS NOT NULL AND NOT q.paused
       AND (SELECT coalesce(sum(s.n), 0) FROM unnest(q.rate_starts, q.rate_counts) AS s(at, n)
             WHERE s.at > clock_timestamp() - q.rate_period) < q.rate_limit
       -- Two probes, one per claim index (01_tables.sql): tasks without and with a key.
       AND (EXISTS (SELECT 1 FROM pgtq.live_tasks l
                     WHERE l.queue = q.queue AND l.state = 'queued' AND l.fairness_key IS NULL)
            OR EXISTS (SELECT 1 FROM pgtq.live_tasks l
                        WHERE l.queue = q.queue AND l.state = 'queued'
                          AND l.fairness_key IS NOT NULL));

    -- The same for a queue with a rate limit per key (16_fairness.sql) once a key it held back
    -- has room: its last fair claim said when (key_rate_wake_at), and the woken claim says
    -- anew. Reads only pgtq.queues and writes nothing: pgtq.pop runs this in the caller's
    -- transaction, which may stay open while the caller works.
    PERFORM pgtq.wake_queue(q.queue) FROM pgtq.queues q
     WHERE q.key_rate_wake_at <= clock_timestamp() AND q.key_rate_limit IS NOT NULL
       AND NOT q.paused
       AND EXISTS (SELECT 1 FROM pgtq.live_tasks l
                    WHERE l.queue = q.queue AND l.state = 'queued'
                      AND l.fairness_key IS NOT NULL);

    -- A stale row only makes pushes notify in vain; a row is never removed while its session
    -- lives (pid is visible to every role, unlike the other columns of pg_stat_activity).
    -- pg_stat_activity is read once per transaction and kept: a caller that read it earlier
    -- in its transaction would judge newer registrations by that old list, so read it anew.
    PERFORM pg_stat_clear_snapshot();
    -- Rows locked by someone else (an operator's open transaction) are skipped, not waited
    -- for: a tick that waited would stop every scheduler's promotions and rescues.
    DELETE FROM pgtq.idle_workers w
     WHERE (w.queue, w.pid) IN (SELECT g.queue, g.pid FROM pgtq.idle_workers g
                                 WHERE NOT EXISTS (SELECT 1 FROM pg_stat_activity a
                                                    WHERE a.pid = g.pid)
                                   FOR UPDATE SKIP LOCKED);
    DELETE FROM pgtq.waiting_schedulers s
     WHERE s.pid IN (SELECT g.pid FROM pgtq.waiting_schedulers g
                      WHERE NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.pid = g.pid)
                        FOR UPDATE SKIP LOCKED);
    DELETE FROM pgtq.workers w
     WHERE (w.worker, w.queue) IN (SELECT g.worker, g.queue FROM pgtq.workers g
                                    WHERE g.last_seen < clock_timestamp() - interval '1 day'
                                      FOR UPDATE SKIP LOCKED);
  END IF;
  -- A row written straight into the table may say 'infinity' or year 294276: the caller
  -- subtracts the time from now, so next_due keeps it within 100 years of now.
  -- A rate limit's room counts as due too: the scheduler wakes its queue then (above).
  next_due := least(pgtq.next_due(), pgtq.next_rate_room());
END $$;
COMMENT ON FUNCTION pgtq.tick(integer) IS
'The scheduler''s work, at most max_count (1..100000) rows per sweep: due schedules fire (pgtq.fire_schedules), due scheduled tasks become queued, expired leases are rescued or failed, rate-limited queues with room (for the queue, or for a key its rate limit held back) are woken, registrations of ended sessions in idle_workers and waiting_schedulers, and workers not heard from for a day, are removed. One session at a time (advisory lock); others return zeros. next_due: the earliest scheduled run_at or schedule fire time (kept within 100 years of now), or the time a rate limit next has room for a claim it holds back, if earlier. Errors: 22004 NULL, 22023 out of range.';

CREATE OR REPLACE FUNCTION pgtq.next_due() RETURNS timestamptz
LANGUAGE sql STABLE SET search_path = pg_catalog, pg_temp AS $$
  SELECT CASE WHEN d.due IS NOT NULL
              THEN least(greatest(d.due, clock_timestamp() - interval '100 years'),
                         clock_timestamp() + interval '100 years') END
    FROM (SELECT least((SELECT min(l.run_at) FROM pgtq.live_tasks l WHERE l.state = 'scheduled'),
                       (SELECT min(s.next_fire_at) FROM pgtq.schedules s WHERE s.enabled)) AS due) d;
$$;
COMMENT ON FUNCTION pgtq.next_due() IS
'The earliest run_at among scheduled tasks or next fire time of an enabled schedule, kept within 100 years of now; NULL when there are none.';
