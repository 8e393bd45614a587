-- The checks every public function makes of its arguments, and the limits they enforce.
--
-- Limits (README "Limits"; docs/architecture.md "Validation"):
--   queue, task names   1..128 characters from [A-Za-z0-9_.:-]
--   args                a JSON array or object; at most 1 MiB (1048576 bytes) as JSON text,
--                       the text a worker receives (a number like 1e131071 is 82 bytes stored
--                       and 131072 as text); arrays and objects nested at most 100 deep
--   result              any JSON value, the same size and depth limits
--   error               at most 64 KiB (65536 bytes); longer ones are cut, never refused
--   run_at              finite, within 100 years of now(), also after adding delay (a past
--                       run_at means "due now")
--   delay, retry_in     0 .. 100 years, counted on the calendar (now() + delay); direct
--                       callers get an error outside that range, finish_many (the daemon's
--                       batch path) clamps instead: negative or NaN -> 0, more -> 100 years
--   lease               1 second .. 1 day
--   timeout             more than 0, at most 365 days; no month or year parts (a duration)
--   worker              1..1024 characters
--   claim/tick count    claim 0..100000 (pgtqd: concurrency + prefetch), tick 1..100000
--   errors list         the last 100 entries are kept
--   tags                at most 32, each 1..128 characters, no NULL; stored distinct and sorted
--   metadata            a JSON object; at most 64 KiB (65536 bytes) as JSON text, nested at
--                       most 100 deep
--   100 years is 3155760000 seconds (PGTQ_MAX_DELAY_SECONDS in plugin.h).
-- SQLSTATEs: 22004 null_value_not_allowed for a NULL where none is allowed, 22023
-- invalid_parameter_value for a bad value, 54000 program_limit_exceeded for a size or depth
-- limit, 42501 insufficient_privilege for a role that may not do it (22_roles.sql). Every
-- message starts with the function (or "pgtq:" for push's task checks) and names the
-- argument.
--
-- Each check here raises the precise error. The hot paths (push, push_many, claim,
-- finish_many) test the same rules as plain expressions first and call these only for a
-- value that fails them: a PERFORM of a plpgsql check is a query of its own.
--
-- search_path: every function runs with search_path = pg_catalog, pg_temp, so that a
-- caller's own now() or jsonb_typeof earlier in its path is never picked up. Everything of
-- pgtq's is schema-qualified. The exceptions are the SQL functions PostgreSQL must inline
-- (a SET clause prevents it): new_claim_token schema-qualifies every name, finished_row has
-- a RETURN body, bound to its objects when created.
--
-- SECURITY DEFINER: every public function (one with a COMMENT) runs as its owner, so that
-- the roles of 22_roles.sql need no right on any table; the pinned search_path, with pg_temp
-- last, is what makes that safe. The helpers here and elsewhere run as their caller, and
-- only pgtq's own functions may call them.

-- Raises unless name is a valid queue or task name; kind ('queue' or 'task') names it.
CREATE FUNCTION pgtq.check_name(kind text, name text) RETURNS void
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF name IS NULL THEN
    RAISE EXCEPTION 'pgtq: % name is NULL', kind USING ERRCODE = 'null_value_not_allowed';
  END IF;
  IF name = '' THEN
    RAISE EXCEPTION 'pgtq: % name is empty', kind USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF length(name) > 128 THEN
    RAISE EXCEPTION 'pgtq: % name is % characters long, the limit is 128', kind, length(name)
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF name !~ '^[A-Za-z0-9_.:-]+$' THEN
    RAISE EXCEPTION 'pgtq: % name "%" has characters outside [A-Za-z0-9_.:-]', kind, name
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
END $$;

-- True when value nests arrays and objects more than 100 deep. Nesting 100 deep takes at
-- least 800 bytes stored (8 per level), so smaller uncompressed values need no walk; the
-- jsonpath visits only the first 101 levels of a deeper one.
CREATE FUNCTION pgtq.too_deep(value jsonb) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
  SELECT (pg_column_size(value) >= 800 OR pg_column_compression(value) IS NOT NULL)
         AND value @? 'strict $.**{100} ? (@.type() == "array" || @.type() == "object")'
$$;

-- Raises when a JSON value (args or a result) is over the size or depth limit. what names it
-- in the message, e.g. 'pgtq.complete: result'.
CREATE FUNCTION pgtq.check_json_limits(what text, value jsonb) RETURNS void
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF octet_length(value::text) > 1048576 THEN
    RAISE EXCEPTION '% is % bytes as JSON text, the limit is 1048576', what,
      octet_length(value::text) USING ERRCODE = 'program_limit_exceeded';
  END IF;
  IF (pg_column_size(value) >= 800 OR pg_column_compression(value) IS NOT NULL)
     AND pgtq.too_deep(value) THEN
    RAISE EXCEPTION '% nests arrays and objects more than 100 deep', what
      USING ERRCODE = 'program_limit_exceeded';
  END IF;
END $$;

-- A pushed task's name, args, priority and max_attempts. NULLs are refused as NULLs, the
-- size is measured on the text every time (numbers make the text arbitrarily longer than
-- the stored value) and the nesting depth is bounded. Returns true or raises, so that it can
-- stand in a WHERE clause.
CREATE FUNCTION pgtq.check_task(task text, args jsonb, priority integer,
                                max_attempts integer)
RETURNS boolean
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  PERFORM pgtq.check_name('task', task);
  IF args IS NULL THEN
    RAISE EXCEPTION 'pgtq: args of task "%" must be a JSON array or object, not NULL', task
      USING ERRCODE = 'null_value_not_allowed';
  END IF;
  IF jsonb_typeof(args) NOT IN ('array', 'object') THEN
    RAISE EXCEPTION 'pgtq: args of task "%" must be a JSON array or object, not %',
      task, jsonb_typeof(args)
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF octet_length(args::text) > 1048576 THEN
    RAISE EXCEPTION 'pgtq: args of task "%" are % bytes as JSON text, the limit is 1048576',
      task, octet_length(args::text)
      USING ERRCODE = 'program_limit_exceeded';
  END IF;
  IF (pg_column_size(args) >= 800 OR pg_column_compression(args) IS NOT NULL)
     AND pgtq.too_deep(args) THEN
    RAISE EXCEPTION 'pgtq: args of task "%" nest arrays and objects more than 100 deep', task
      USING ERRCODE = 'program_limit_exceeded';
  END IF;
  IF priority IS NULL THEN
    RAISE EXCEPTION 'pgtq: priority of task "%" is NULL', task
      USING ERRCODE = 'null_value_not_allowed';
  END IF;
  IF priority NOT BETWEEN -32768 AND 32767 THEN
    RAISE EXCEPTION 'pgtq: priority % of task "%" is outside -32768..32767', priority, task
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF max_attempts IS NULL THEN
    RAISE EXCEPTION 'pgtq: max_attempts of task "%" is NULL', task
      USING ERRCODE = 'null_value_not_allowed';
  END IF;
  IF max_attempts NOT BETWEEN 1 AND 1000 THEN
    RAISE EXCEPTION 'pgtq: max_attempts % of task "%" is outside 1..1000', max_attempts, task
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  RETURN true;
END $$;

-- True when tags are acceptable as a task's tags: one dimension, at most 32, none NULL, each
-- 1..128 characters. NULL (no tags) is acceptable.
CREATE FUNCTION pgtq.tags_ok(tags text[]) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
  SELECT tags IS NULL
         OR coalesce(array_ndims(tags), 1) = 1 AND cardinality(tags) <= 32
            AND array_position(tags, NULL) IS NULL
            AND NOT EXISTS (SELECT 1 FROM unnest(tags) AS t WHERE length(t) NOT BETWEEN 1 AND 128)
$$;

-- Raises unless tags_ok(tags), naming what (e.g. 'pgtq.push: tags') and the tag at fault.
CREATE FUNCTION pgtq.check_tags(what text, tags text[]) RETURNS void
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  bad text;
BEGIN
  IF tags IS NULL THEN
    RETURN;
  END IF;
  IF array_ndims(tags) > 1 THEN
    RAISE EXCEPTION '% must be a one-dimensional array, got % dimensions', what, array_ndims(tags)
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF cardinality(tags) > 32 THEN
    RAISE EXCEPTION '% holds % tags, the limit is 32', what, cardinality(tags)
      USING ERRCODE = 'program_limit_exceeded';
  END IF;
  IF array_position(tags, NULL) IS NOT NULL THEN
    RAISE EXCEPTION '% must not contain NULL (tag %)', what, array_position(tags, NULL)
      USING ERRCODE = 'null_value_not_allowed';
  END IF;
  SELECT t INTO bad FROM unnest(tags) AS t WHERE length(t) NOT BETWEEN 1 AND 128 LIMIT 1;
  IF FOUND THEN
    RAISE EXCEPTION '% must be 1 to 128 characters each, got "%" (% characters)', what,
      left(bad, 64), length(bad) USING ERRCODE = 'invalid_parameter_value';
  END IF;
END $$;

-- A task's tags as stored: distinct and sorted; NULL for none (NULL or empty).
CREATE FUNCTION pgtq.normal_tags(tags text[]) RETURNS text[]
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
  SELECT CASE WHEN cardinality(tags) > 0
              THEN ARRAY(SELECT DISTINCT t FROM unnest(tags) AS t ORDER BY t) END
$$;

-- Tags given as JSON (push_many): an array of strings as text[]; NULL for JSON null or no
-- value. Raises 22023 naming what for anything else; tags_ok / check_tags judge the result.
CREATE FUNCTION pgtq.json_tags(what text, tags jsonb) RETURNS text[]
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF tags IS NULL OR jsonb_typeof(tags) = 'null' THEN
    RETURN NULL;
  END IF;
  IF jsonb_typeof(tags) <> 'array' OR tags @? 'strict $[*] ? (@.type() != "string")' THEN
    RAISE EXCEPTION '% must be a JSON array of strings, got %', what, left(tags::text, 64)
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  RETURN ARRAY(SELECT jsonb_array_elements_text(tags));
END $$;

-- True when metadata is acceptable as a task's metadata: NULL, or a JSON object of at most
-- 64 KiB as text, nested at most 100 deep.
CREATE FUNCTION pgtq.metadata_ok(metadata jsonb) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
  SELECT metadata IS NULL
         OR jsonb_typeof(metadata) = 'object' AND octet_length(metadata::text) <= 65536
            AND NOT pgtq.too_deep(metadata)
$$;

-- Raises unless metadata_ok(metadata), naming what (e.g. 'pgtq.push: metadata').
CREATE FUNCTION pgtq.check_metadata(what text, metadata jsonb) RETURNS void
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF metadata IS NULL THEN
    RETURN;
  END IF;
  IF jsonb_typeof(metadata) <> 'object' THEN
    RAISE EXCEPTION '% must be a JSON object, not %', what, jsonb_typeof(metadata)
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF octet_length(metadata::text) > 65536 THEN
    RAISE EXCEPTION '% is % bytes as JSON text, the limit is 65536', what,
      octet_length(metadata::text) USING ERRCODE = 'program_limit_exceeded';
  END IF;
  IF pgtq.too_deep(metadata) THEN
    RAISE EXCEPTION '% nests arrays and objects more than 100 deep', what
      USING ERRCODE = 'program_limit_exceeded';
  END IF;
END $$;

-- True when delay lies in 0 .. 100 years on the calendar (now() + delay). The field bounds
-- come first so that the timestamp arithmetic cannot overflow.
CREATE FUNCTION pgtq.delay_ok(delay interval) RETURNS boolean
LANGUAGE sql STABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
  SELECT CASE WHEN extract(year FROM delay) BETWEEN -200 AND 200
               AND extract(day FROM delay) BETWEEN -100000 AND 100000
               AND extract(epoch FROM delay) BETWEEN -7e9 AND 7e9
              THEN now() + delay >= now() AND now() + delay <= now() + interval '100 years'
              ELSE false END
$$;

-- Raises unless delay is NULL or lies in 0 .. 100 years. what: e.g. 'pgtq.snooze: delay'.
CREATE FUNCTION pgtq.check_delay(what text, delay interval) RETURNS void
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF delay IS NOT NULL AND NOT pgtq.delay_ok(delay) THEN
    RAISE EXCEPTION '% must be between 0 and 100 years, got %', what, delay
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
END $$;

-- The start time of a pushed task: coalesce(run_at, now()) + coalesce(delay, 0), each part
-- and the sum within 100 years of now(). what: e.g. 'pgtq.push: ' or 'pgtq.push_many
-- element 3: '.
CREATE FUNCTION pgtq.start_time(what text, run_at timestamptz, delay interval)
RETURNS timestamptz
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  start_at timestamptz := coalesce(run_at, now());
BEGIN
  IF NOT isfinite(start_at) OR start_at < now() - interval '100 years'
     OR start_at > now() + interval '100 years' THEN
    RAISE EXCEPTION '%run_at must be within 100 years of now(), got %', what, run_at
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  PERFORM pgtq.check_delay(what || 'delay', delay);
  start_at := start_at + coalesce(delay, interval '0');
  IF start_at > now() + interval '100 years' THEN
    RAISE EXCEPTION '%run_at + delay must be within 100 years of now(), got %', what, start_at
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  RETURN start_at;
END $$;

-- Error texts are kept to 64 KiB: the first part, cut on a character boundary, and a mark.
CREATE FUNCTION pgtq.clip_error(error text) RETURNS text
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  keep integer := 65520;
BEGIN
  IF error IS NULL OR octet_length(error) <= 65536 THEN
    RETURN error;
  END IF;
  WHILE octet_length(left(error, keep)) > 65520 LOOP
    keep := keep - (octet_length(left(error, keep)) - 65520 + 3) / 4 - 1;
  END LOOP;
  RETURN left(error, keep) || ' [truncated]';
END $$;

-- A task's errors list before one more entry is appended: at most the last 99 entries (and
-- a list again if something else was written there).
CREATE FUNCTION pgtq.recent_errors(errors jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
  SELECT CASE WHEN jsonb_typeof(errors) IS DISTINCT FROM 'array' THEN '[]'::jsonb
              WHEN jsonb_array_length(errors) < 100 THEN errors
              ELSE jsonb_path_query_array(errors, 'strict $[last - 98 to last]') END
$$;

-- Raises unless lease lies in 1 second .. 1 day.
CREATE FUNCTION pgtq.check_lease(what text, lease interval) RETURNS void
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF lease IS NULL THEN
    RAISE EXCEPTION '%: lease must not be NULL', what USING ERRCODE = 'null_value_not_allowed';
  END IF;
  -- A lease is a duration: days count 24 hours, and month or year parts are refused.
  IF NOT (extract(year FROM lease) = 0 AND extract(month FROM lease) = 0
          AND extract(epoch FROM lease) BETWEEN 1 AND 86400) THEN
    RAISE EXCEPTION '%: lease must be between 1 second and 1 day, got %', what, lease
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
END $$;

-- The timeout rule, in one place: a duration of more than 0 and at most 365 days, as a lease
-- is (days count 24 hours; month or year parts, whose length varies, are refused).
CREATE FUNCTION pgtq.timeout_ok(timeout interval) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = pg_catalog, pg_temp AS $$
  SELECT extract(year FROM timeout) = 0 AND extract(month FROM timeout) = 0
         AND extract(epoch FROM timeout) > 0 AND extract(epoch FROM timeout) <= 31536000
$$;

-- Raises unless timeout is NULL (none) or lies in (0, 365 days]. what: e.g. 'pgtq.push: timeout'.
CREATE FUNCTION pgtq.check_timeout(what text, timeout interval) RETURNS void
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF timeout IS NOT NULL AND NOT pgtq.timeout_ok(timeout) THEN
    RAISE EXCEPTION '% must be more than 0 and at most 365 days (no months or years), got %',
      what, timeout USING ERRCODE = 'invalid_parameter_value';
  END IF;
END $$;

-- Raises unless ids and claims are two arrays of the same length. NULL elements are
-- allowed: they match no task.
CREATE FUNCTION pgtq.check_id_claims(what text, task_ids bigint[], task_claims bigint[])
RETURNS void
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF task_ids IS NULL THEN
    RAISE EXCEPTION '%: task_ids must not be NULL', what USING ERRCODE = 'null_value_not_allowed';
  END IF;
  IF task_claims IS NULL THEN
    RAISE EXCEPTION '%: task_claims must not be NULL', what
      USING ERRCODE = 'null_value_not_allowed';
  END IF;
  IF coalesce(array_ndims(task_ids), 1) <> 1 OR coalesce(array_ndims(task_claims), 1) <> 1 THEN
    RAISE EXCEPTION '%: task_ids and task_claims must be one-dimensional arrays', what
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF cardinality(task_ids) <> cardinality(task_claims) THEN
    RAISE EXCEPTION '%: task_ids and task_claims must have the same length, got % and %', what,
      cardinality(task_ids), cardinality(task_claims) USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF cardinality(task_ids) > 100000 THEN
    RAISE EXCEPTION '%: task_ids has % elements, the limit is 100000', what,
      cardinality(task_ids) USING ERRCODE = 'program_limit_exceeded';
  END IF;
END $$;

-- Raises unless id and claim are given.
CREATE FUNCTION pgtq.check_id_claim(what text, id bigint, claim bigint) RETURNS void
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  IF id IS NULL THEN
    RAISE EXCEPTION '%: id must not be NULL', what USING ERRCODE = 'null_value_not_allowed';
  END IF;
  IF claim IS NULL THEN
    RAISE EXCEPTION '%: claim must not be NULL', what USING ERRCODE = 'null_value_not_allowed';
  END IF;
END $$;

-- claim's and pop's arguments.
CREATE FUNCTION pgtq.check_claim_args(what text, queue text, task_names text[],
                                      max_count integer, worker text, lease interval)
RETURNS void
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, pg_temp AS $$
BEGIN
  BEGIN
    PERFORM pgtq.check_name('queue', queue);
  EXCEPTION WHEN null_value_not_allowed OR invalid_parameter_value THEN
    RAISE EXCEPTION '%: %', what, SQLERRM USING ERRCODE = SQLSTATE;
  END;
  IF task_names IS NULL THEN
    RAISE EXCEPTION '%: task_names must not be NULL', what
      USING ERRCODE = 'null_value_not_allowed';
  END IF;
  IF cardinality(task_names) > 10000 THEN
    RAISE EXCEPTION '%: task_names has % elements, the limit is 10000', what,
      cardinality(task_names) USING ERRCODE = 'program_limit_exceeded';
  END IF;
  IF max_count IS NULL THEN
    RAISE EXCEPTION '%: max_count must not be NULL', what
      USING ERRCODE = 'null_value_not_allowed';
  END IF;
  IF max_count NOT BETWEEN 0 AND 100000 THEN
    RAISE EXCEPTION '%: max_count must be between 0 and 100000, got %', what, max_count
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF worker IS NULL THEN
    RAISE EXCEPTION '%: worker must not be NULL', what USING ERRCODE = 'null_value_not_allowed';
  END IF;
  IF length(worker) NOT BETWEEN 1 AND 1024 THEN
    RAISE EXCEPTION '%: worker must be 1 to 1024 characters long, got %', what, length(worker)
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  PERFORM pgtq.check_lease(what, lease);
END $$;

-- The period of a rate limit (pgtq.set_rate_limit, pgtq.set_key_rate_limit) as its length in
-- seconds, 1 second to 1 day: '1 day' becomes 24:00:00, so that a window is as long on the day
-- the clocks change as on any other, and a month part (30 days to extract) cannot make
-- 'now - per' land in the future ('1 mon -29 days' is 24:00:00). NULL stays NULL. Otherwise
-- raises 22023, its message starting with what.
CREATE FUNCTION pgtq.rate_period(what text, per interval) RETURNS interval
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, pg_temp AS $$
DECLARE
  seconds numeric := extract(epoch FROM per);
BEGIN
  IF seconds NOT BETWEEN 1 AND 86400 THEN
    RAISE EXCEPTION '%: per must be 1 second to 1 day, got %', what, per
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  RETURN make_interval(secs => seconds);
END $$;
