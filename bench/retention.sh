#!/usr/bin/env bash
# History removal and the cost of retention's index: run by `bench/run.sh --retention` against
# its private server (environment: DSN, PGTQ_PG_BIN, BENCH_DIR, OUT, PGB_SECS, REPS, QUICK).
#   1. Removing a history of N finished tasks (1,000,000; 100,000 with --quick), all past their
#      time: one pgtq.prune call against pgtq.apply_retention batches of 10,000 called until
#      one deletes nothing (what pgtqd's scheduler does, without its pauses); wall time, the
#      longest single transaction, and WAL written. Alternating, REPS times.
#   2. Building finished_tasks_retention over them (what migration 0024 costs).
#   3. The outcome path with and without finished_tasks_retention: pgbench, 1 client, push +
#      claim + complete per transaction script, PGB_SECS each, alternating REPS times.
set -euo pipefail
psqlc() { "$PGTQ_PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -At "$@"; }
SQL="$BENCH_DIR/sql/retention"
N=$([ "$QUICK" = 1 ] && echo 100000 || echo 1000000)
now_s() { date +%s.%N; }
wal_lsn() { psqlc -c "SELECT pg_current_wal_lsn()"; }
wal_mb() { psqlc -c "SELECT round(pg_wal_lsn_diff('$2', '$1') / 1048576.0, 1)"; }

fill() {
  psqlc -c "TRUNCATE pgtq.finished_tasks" -c "DELETE FROM pgtq.retention"
  psqlc -v n="$N" -f "$SQL/fill.sql"
  psqlc -c "VACUUM ANALYZE pgtq.finished_tasks" -c "CHECKPOINT"
}

echo "### Building finished_tasks_retention over $N finished tasks (migration 0024's cost)"
echo
echo "| rep | CREATE INDEX s |"
echo "|---|---:|"
for rep in $(seq 1 "$REPS"); do
  fill
  psqlc -c "DROP INDEX pgtq.finished_tasks_retention"
  t0=$(now_s)
  psqlc -c "CREATE INDEX finished_tasks_retention ON pgtq.finished_tasks (queue, state, finished_at)"
  printf '| %s | %.2f |\n' "$rep" "$(echo "$(now_s) - $t0" | bc)"
done
echo

echo "### Removing $N finished tasks past their time (seconds, WAL MiB)"
echo
echo "| rep | how | removed | wall s | longest transaction s | WAL MiB |"
echo "|---|---|---:|---:|---:|---:|"
for rep in $(seq 1 "$REPS"); do
  fill
  start=$(wal_lsn); t0=$(now_s)
  removed=$(psqlc -c "SELECT pgtq.prune(now() - interval '1 day')")
  t1=$(now_s); end=$(wal_lsn)
  wall=$(echo "$t1 - $t0" | bc)
  printf '| %s | pgtq.prune, one statement | %s | %.2f | %.2f | %s |\n' \
    "$rep" "$removed" "$wall" "$wall" "$(wal_mb "$start" "$end")"

  fill
  psqlc -c "SELECT pgtq.set_retention(NULL, NULL, '1 day')" >/dev/null
  start=$(wal_lsn); t0=$(now_s); total=0; longest=0
  while :; do
    c0=$(now_s)
    n=$(psqlc -c "SELECT pgtq.apply_retention(10000)")
    c1=$(now_s)
    longest=$(echo "if ($c1 - $c0 > $longest) $c1 - $c0 else $longest" | bc)
    total=$((total + n))
    [ "$n" -eq 0 ] && break
  done
  t1=$(now_s); end=$(wal_lsn)
  printf '| %s | pgtq.apply_retention(10000) until 0 | %s | %.2f | %.3f | %s |\n' \
    "$rep" "$total" "$(echo "$t1 - $t0" | bc)" "$longest" "$(wal_mb "$start" "$end")"
done
psqlc -c "TRUNCATE pgtq.finished_tasks" -c "DELETE FROM pgtq.retention"

echo
echo "### Outcome path with and without finished_tasks_retention (pgbench -c 1, ${PGB_SECS} s each, cycles/s)"
echo
echo "| rep | without the index | with the index | with / without |"
echo "|---|---:|---:|---:|"
cycle() {
  psqlc -c "TRUNCATE pgtq.live_tasks" -c "TRUNCATE pgtq.finished_tasks"
  "$PGTQ_PG_BIN/pgbench" -n -M prepared -f "$SQL/cycle.sql" -c 1 -j 1 -T "$PGB_SECS" 2>&1 |
    awk '/^tps =/ {print $3}'
}
for rep in $(seq 1 "$REPS"); do
  psqlc -c "DROP INDEX pgtq.finished_tasks_retention"
  without=$(cycle)
  psqlc -c "CREATE INDEX finished_tasks_retention ON pgtq.finished_tasks (queue, state, finished_at)"
  with=$(cycle)
  printf '| %s | %.0f | %.0f | %.3f |\n' "$rep" "$without" "$with" "$(echo "$with / $without" | bc -l)"
done
