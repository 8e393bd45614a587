#!/usr/bin/env bash
# Server CPU per claimed and finished task, before against after, alternated, over tasks with
# fairness keys (the figures of README.md here). DSN: a private PostgreSQL 15 this user may
# create databases on and whose postmaster.pid it can read; BEFORE_CTL, AFTER_CTL: the pgtqctl
# of each build. KEYS: fairness keys the tasks are spread over (0: none). AFTER_SETUP: SQL run
# on the after database first (e.g. a rate limit per key that never binds).
set -euo pipefail
: "${DSN:?}" "${BEFORE_CTL:?}" "${AFTER_CTL:?}"
BIN=/usr/lib/postgresql/15/bin
PAIRS=${PAIRS:-7}
KEYS=${KEYS:-10}
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
[ -z "${AFTER_SETUP:-}" ] || psql "$DSN dbname=cpu_after" -Atqc "$AFTER_SETUP" >/dev/null
pm=$(head -1 "$(psql "$DSN" -Atc 'SHOW data_directory')/postmaster.pid")
tree_cpu() { # utime+stime of the postmaster and its children (ticks)
  local total=0
  for p in $pm $(pgrep -P "$pm"); do
    local stat
    stat=$(sed 's/^.*) //' /proc/$p/stat 2>/dev/null) || continue # a backend that just ended
    [ -n "$stat" ] || continue
    set -- $stat
    total=$((total + ${12} + ${13} + ${14} + ${15}))
  done
  echo $total
}
key_expr="NULL"
[ "$KEYS" -gt 0 ] && key_expr="'k' || (g % $KEYS)"
run() { # side -> µs of server CPU per task
  local db="cpu_$1"
  psql "$DSN dbname=$db" -Atqc "TRUNCATE pgtq.live_tasks" -c "TRUNCATE pgtq.finished_tasks" \
    -c "DELETE FROM pgtq.fairness_cursors" \
    -c "SELECT count(pgtq.push('q', 't', fairness_key => $key_expr)) FROM generate_series(1, 50000) g" \
    -c "VACUUM ANALYZE pgtq.live_tasks" >/dev/null
  local c0 c1 done
  c0=$(tree_cpu)
  $BIN/pgbench -n -M prepared -f /tmp/cpu_claim_finish.sql -c 1 -j 1 -t 500 "$DSN dbname=$db" >/tmp/pgb.$1.log 2>&1
  c1=$(tree_cpu)
  done=$(psql "$DSN dbname=$db" -Atc "SELECT count(*) FROM pgtq.finished_tasks")
  echo "scale=1; ($c1 - $c0) * 10000 / $done" | bc   # ticks are 10 ms
}
for i in $(seq 1 "$PAIRS"); do
  if [ $((i % 2)) = 1 ]; then b=$(run before); a=$(run after); else a=$(run after); b=$(run before); fi
  echo "$i before=$b after=$a ratio=$(echo "scale=3; $a / $b" | bc)"
done
