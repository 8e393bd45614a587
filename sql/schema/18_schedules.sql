-- Periodic tasks: schedules that push a task on a cron expression or at a fixed interval.
--
-- A schedule (pgtq.schedules) is set, paused, resumed and deleted with the functions below;
-- pgtq.tick fires the due ones (pgtq.fire_schedules), so every pgtqd scheduler serves them,
-- one at a time, and the scheduler's wake-up covers them: pgtq.next_due includes the
-- earliest next_fire_at, and set_schedule and resume_schedule wake a scheduler that sleeps
-- past it.
--
-- Exactly once. A fire time is pushed in the transaction that moves the schedule's
-- next_fire_at past it, under the row's lock, with the unique key
-- 'pgtq.schedule:<name>@<fire time in UTC>' counted in every state: neither two schedulers
-- nor a rewound next_fire_at push a fire time twice. The task's run_at is its fire time.
--
-- Cron expressions: five fields (minute hour day-of-month month day-of-week) or six, with
-- seconds first. Each field is * or a list of n, n-m, */s, n-m/s, n/s (n up to the field's
-- maximum); months JAN-DEC and days SUN-SAT by name too (any case); day of week 0-7, 0 and 7
-- both Sunday. When both day fields are restricted (neither starts with *), a day matches
-- when either does, as in Vixie cron. @yearly (@annually), @monthly, @weekly, @daily
-- (@midnight) and @hourly stand for their five fields.
--
-- Time zones: the fields are wall-clock times in time_zone, converted with the server's own
-- time zone rules (pg_timezone_names). Where clocks skip (spring forward), a wall-clock time
-- that does not exist fires once, shifted by the skip (02:30 -> 03:30 in Europe/Berlin on
-- 2026-03-29). Where clocks go back, a repeated wall-clock time fires once, at its first
-- occurrence, unless the hour field is * (every hour): such a schedule counts elapsed time,
-- so it fires in both passes of the repeated hour and skips no fire in the skipped one
-- (*/30 * * * * fires every 30 minutes through both changes).
--
-- every: fire times are the multiples of every since 1970-01-01 00:00 UTC (every 1 hour
-- fires on the hour, in UTC); a fixed duration (1 day is 86,400 s): calendar schedules use
-- cron.
--
-- Catch-up, for fire times the schedulers missed (none ran, or a pass came after the next
-- fire time as well): 'latest' (the default) pushes the newest missed fire time only, 'all'
-- pushes each, oldest first, at most 1,000 per pass (the next pass goes on), and 'none'
-- pushes none. A fire time more than a minute late counts as missed too. 'latest' and 'all'
-- never push a fire time older than catch_up_within (default 1 day). Fire times while a
-- schedule is paused are skipped: resume_schedule starts from the next one.

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
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
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
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
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
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
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
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
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
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
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
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
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
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
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
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  s       pgtq.schedules;
  now_at  timestamptz;
  parsed  bigint[];
  fires   timestamptz[];
  f       timestamptz;
  g       timestamptz;
  lo      timestamptz;
  upper   timestamptz;
  mid     timestamptz;
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
            -- The newest fire time in [f, now_at], by halving the span where it can be, not
            -- by walking each fire time: a cron firing every second of 20 hours a day would
            -- walk 1,800 of them for a window of an hour. upper: no fire time in
            -- [upper, now_at]. The midpoint is taken in seconds of elapsed time, so that no
            -- session time zone's day lengths can put it past upper.
            upper := now_at + interval '1 microsecond';
            LOOP
              g := pgtq.schedule_next(parsed, s.every, s.time_zone, f);
              EXIT WHEN g IS NULL OR g >= upper;
              f := g;
              mid := f + make_interval(secs => extract(epoch FROM upper - f) / 2);
              IF mid > f AND mid < upper THEN
                g := pgtq.schedule_next(parsed, s.every, s.time_zone, mid - interval '1 microsecond');
                IF g < upper THEN
                  f := g;
                ELSE
                  upper := mid;
                END IF;
              END IF;
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
