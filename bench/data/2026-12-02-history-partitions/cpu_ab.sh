#!/usr/bin/env bash
# Server CPU per claimed and finished task, before against after, alternated (the figures of
# cpu-claim-finish.md). DSN: a private PostgreSQL 15 this user may create databases on and
# whose postmaster.pid it can read; BEFORE_CTL, AFTER_CTL: the pgtqctl of each build.
set -euo pipefail
: "${DSN:?}" "${BEFORE_CTL:?}" "${AFTER_CTL:?}"
BIN=/usr/lib/postgresql/15/bin
PAIRS=${PAIRS:-9}
cat > /tmp/cpu_claim_finish.sql <<'SQL'
SELECT count(*) FROM (
  SELECT pgtq.finish_many(array_agg(c.id), array_agg(c.claim),
                          array_fill('done'::text, ARRAY[count(*)::int]),
                          array_fill(NULL::jsonb, ARRAY[count(*)::int]),
                          array_fill(NULL::text, ARRAY[count(*)::int]),
                          array_fill(NULL::float8, ARRAY[count(*)::int]))
    FROM pgtq.claim('q', '{t}', 100, 'w') c) s;
SQL
for side in before after; do
  psql "$DSN" -Atqc "DROP DATABASE IF EXISTS cpu_$side" -c "CREATE DATABASE cpu_$side"
done
"$BEFORE_CTL" --dsn "$DSN dbname=cpu_before" migrate >/dev/null
"$AFTER_CTL" --dsn "$DSN dbname=cpu_after" migrate >/dev/null
pm=$(psql "$DSN" -Atc "SELECT pg_postmaster_start_time()" >/dev/null; head -1 "$(psql "$DSN" -Atc 'SHOW data_directory')/postmaster.pid")
tree_cpu() { # utime+stime of the postmaster and its children (ticks)
  local total=0
  for p in $pm $(pgrep -P "$pm"); do
    [ -r /proc/$p/stat ] || continue
    set -- $(sed 's/^.*) //' /proc/$p/stat)
    total=$((total + ${12} + ${13} + ${14} + ${15}))
  done
  echo $total
}
run() { # side -> µs of server CPU per task
  local db="cpu_$1"
  psql "$DSN dbname=$db" -Atqc "TRUNCATE pgtq.live_tasks" -c "TRUNCATE pgtq.finished_tasks" \
    -c "SELECT count(*) FROM pgtq.push_many('q', (SELECT jsonb_agg(jsonb_build_object('task', 't')) FROM generate_series(1, 10000)))" -c "SELECT count(*) FROM pgtq.push_many('q', (SELECT jsonb_agg(jsonb_build_object('task', 't')) FROM generate_series(1, 10000)))" -c "SELECT count(*) FROM pgtq.push_many('q', (SELECT jsonb_agg(jsonb_build_object('task', 't')) FROM generate_series(1, 10000)))" -c "SELECT count(*) FROM pgtq.push_many('q', (SELECT jsonb_agg(jsonb_build_object('task', 't')) FROM generate_series(1, 10000)))" -c "SELECT count(*) FROM pgtq.push_many('q', (SELECT jsonb_agg(jsonb_build_object('task', 't')) FROM generate_series(1, 10000)))" -c "VACUUM ANALYZE pgtq.live_tasks" >/dev/null
  local c0 c1
  c0=$(tree_cpu)
  $BIN/pgbench -n -M prepared -f /tmp/cpu_claim_finish.sql -c 2 -j 2 -t 250 "$DSN dbname=$db" >/tmp/pgb.$1.log 2>&1
  c1=$(tree_cpu)
  echo "scale=1; ($c1 - $c0) * 10000 / 50000" | bc   # ticks are 10 ms
}
for i in $(seq 1 "$PAIRS"); do
  if [ $((i % 2)) = 1 ]; then b=$(run before); a=$(run after); else a=$(run after); b=$(run before); fi
  echo "$i before=$b after=$a ratio=$(echo "scale=3; $a / $b" | bc)"
done
