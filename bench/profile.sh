#!/usr/bin/env bash
# What bounds pgtq's figures: run by `bench/run.sh --profile` against its private server
# (environment: DSN, BENCH, PGTQD, PLUGINS, PGTQ_PG_BIN, BENCH_DIR, OUT, PGB_SECS).
# Nothing here changes pgtq: variants of pgtq's SQL are created in a scratch schema
# (bench_exp) of the benchmark database, so each cost can be measured on its own.
set -euo pipefail
psqlc() { "$PGTQ_PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -At "$@"; }
pgb() {  # label script [pgbench args]: prints "label  tps"
  local label=$1 script=$2; shift 2
  local tps
  tps=$("$PGTQ_PG_BIN/pgbench" -n -M prepared -f "$script" -c 1 -j 1 -T "$PGB_SECS" "$@" 2>&1 |
        awk '/^tps =/ {print $3}')
  printf '| %s | %s |\n' "$label" "${tps:-failed}"
}
SQL="$BENCH_DIR/sql/profile"

echo "### Push, one per transaction, 1 client, pgbench -M prepared, ${PGB_SECS} s each (transactions/s)"
echo
echo "| statement | tx/s |"
echo "|---|---:|"
psqlc -f "$SQL/variants.sql"
for round in 1 2; do
  psqlc -c "TRUNCATE pgtq.live_tasks"
  pgb "[$round] INSERT into pgtq.live_tasks directly (no function, no NOTIFY)" "$SQL/push_insert.sql"
  psqlc -c "TRUNCATE pgtq.live_tasks"
  pgb "[$round] pgtq.push without pg_notify (bench_exp.push_quiet)" "$SQL/push_quiet.sql"
  psqlc -c "TRUNCATE pgtq.live_tasks"
  pgb "[$round] pgtq.push" "$SQL/push.sql"
  psqlc -c "TRUNCATE floor_jobs"
  pgb "[$round] floor: INSERT INTO floor_jobs" "$BENCH_DIR/sql/enqueue_single.sql"
done
echo
echo "### Push, 1,000 per statement, 1 client (rows/s = tx/s × 1000)"
echo
echo "| statement | tx/s |"
echo "|---|---:|"
for round in 1 2; do
  psqlc -c "TRUNCATE pgtq.live_tasks"
  pgb "[$round] pgtq.push_many, 1000 tasks as jsonb" "$SQL/push_many.sql"
  psqlc -c "TRUNCATE pgtq.live_tasks"
  pgb "[$round] bench_exp.push_many_arrays: same checks as CHECK constraints, arrays in" "$SQL/push_many_arrays.sql"
  psqlc -c "TRUNCATE pgtq.live_tasks"
  pgb "[$round] INSERT … SELECT 1000 rows into pgtq.live_tasks" "$SQL/push_many_insert.sql"
  psqlc -c "TRUNCATE floor_jobs"
  pgb "[$round] floor: 1000-row INSERT INTO floor_jobs" "$BENCH_DIR/sql/enqueue_bulk1000.sql"
done
psqlc -c "TRUNCATE pgtq.live_tasks" -c "TRUNCATE floor_jobs"
echo

echo "### Drain 20,000, concurrency 32: time inside pgtq's functions (track_functions = all)"
echo
psqlc -c "ALTER SYSTEM SET track_functions = 'all'" -c "SELECT pg_reload_conf()" >/dev/null
sleep 0.5
psqlc -c "SELECT pg_stat_reset()" >/dev/null
"$BENCH" --dsn "$DSN" --pgtqd "$PGTQD" --plugin-dir "$PLUGINS" --daemon-log "$OUT/pgtqd.log" \
  drain --tasks 20000 --concurrency 32
sleep 1   # statistics are flushed when the daemon's backends exit
echo
echo "| function | calls | total ms | self ms | µs per call |"
echo "|---|---:|---:|---:|---:|"
psqlc -F ' | ' -c "SELECT '| ' || funcname, calls, round(total_time::numeric, 1), round(self_time::numeric, 1),
                          round((total_time / greatest(calls, 1) * 1000)::numeric, 1) || ' |'
                     FROM pg_stat_user_functions WHERE schemaname = 'pgtq' ORDER BY total_time DESC"
psqlc -c "ALTER SYSTEM RESET track_functions" -c "SELECT pg_reload_conf()" >/dev/null
echo

echo "### Drain 20,000: the same, with pgtqd's own commits not waiting for the disk"
echo "(experiment only: synchronous_commit=off on pgtqd's connection; pushes stay synchronous)"
echo
for c in 16 32; do
  "$BENCH" --dsn "$DSN" --pgtqd "$PGTQD" --plugin-dir "$PLUGINS" --daemon-log "$OUT/pgtqd.log" \
    drain --tasks 20000 --concurrency "$c"
  "$BENCH" --dsn "$DSN options='-c synchronous_commit=off'" --pgtqd "$PGTQD" --plugin-dir "$PLUGINS" \
    --daemon-log "$OUT/pgtqd.log" drain --tasks 20000 --concurrency "$c"
done
