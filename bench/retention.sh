#!/usr/bin/env bash
# History removal and the cost of the history's shape: run by `bench/run.sh --retention`
# against its private server (environment: DSN, PGTQ_PG_BIN, BENCH_DIR, OUT, REPS, QUICK).
#   1. Removing a history of N finished tasks (1,000,000; 100,000 with --quick), all past their
#      time, kept two ways: in one table (the default partition, where every task went before
#      migration 0029 made a partition per day) and in the daily partitions of 28 days. Each is
#      removed by one pgtq.prune call and by pgtq.apply_retention batches of 10,000 called until
#      one removes nothing (what pgtqd's scheduler does, without its pauses): wall time, the
#      longest single transaction, and WAL written. Alternating, REPS times.
# The outcome path's cost of the partitioned history is measured against the build before it
# (bench/run.sh --ab).
set -euo pipefail
psqlc() { "$PGTQ_PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -At "$@"; }
SQL="$BENCH_DIR/sql/retention"
N=$([ "$QUICK" = 1 ] && echo 100000 || echo 1000000)
now_s() { date +%s.%N; }
wal_lsn() { psqlc -c "SELECT pg_current_wal_lsn()"; }
wal_mb() { psqlc -c "SELECT round(pg_wal_lsn_diff('$2', '$1') / 1048576.0, 1)"; }

# The history's partitions all dropped (tasks then go to the default partition: one table),
# or made for every day of the filled range.
one_table() {
  psqlc -c "DO \$\$ DECLARE p regclass; BEGIN
              FOR p IN SELECT h FROM pgtq.history_partitions() h
                        WHERE h <> 'pgtq.finished_tasks_default'::regclass LOOP
                EXECUTE format('DROP TABLE %s', p);
              END LOOP; END \$\$"
}
daily() {
  psqlc -c "SELECT pgtq.add_history_partitions((now() AT TIME ZONE 'UTC')::date - 31, 36)" >/dev/null
}

fill() { # one_table | daily
  psqlc -c "TRUNCATE pgtq.finished_tasks" -c "DELETE FROM pgtq.retention"
  "$1"
  # Today's and the next days' exist ahead, as pgtqd keeps them: the old tasks alone go to
  # the default partition in one_table.
  psqlc -c "SELECT pgtq.add_history_partitions()" >/dev/null
  psqlc -v n="$N" -f "$SQL/fill.sql"
  psqlc -c "VACUUM ANALYZE pgtq.finished_tasks" -c "CHECKPOINT"
}

echo "### Removing $N finished tasks past their time (seconds, WAL MiB)"
echo
echo "| rep | history | how | removed | wall s | longest transaction s | WAL MiB |"
echo "|---|---|---|---:|---:|---:|---:|"
for rep in $(seq 1 "$REPS"); do
  for shape in one_table daily; do
    fill "$shape"
    start=$(wal_lsn); t0=$(now_s)
    removed=$(psqlc -c "SELECT pgtq.prune(now() - interval '1 day')")
    t1=$(now_s); end=$(wal_lsn)
    wall=$(echo "$t1 - $t0" | bc)
    printf '| %s | %s | pgtq.prune, one call | %s | %.2f | %.2f | %s |\n' \
      "$rep" "$shape" "$removed" "$wall" "$wall" "$(wal_mb "$start" "$end")"

    fill "$shape"
    psqlc -c "SELECT pgtq.set_retention(NULL, NULL, '1 day')" >/dev/null
    # One session, as pgtqd's scheduler has: the calls and their times, summed up to the
    # first call that removes nothing (the calls after it find nothing either).
    start=$(wal_lsn)
    for _ in $(seq 1 $((N / 10000 + 10))); do
      echo "SELECT pgtq.apply_retention(10000);"
    done | psqlc -c '\timing on' -f - >"$OUT/retention-calls.txt"
    end=$(wal_lsn)
    read -r total wall longest < <(awk '
      /^Time: / { if (!done) { t = $2 / 1000; wall += t; if (t > longest) longest = t;
                               if (last == 0) done = 1 } next }
      /^[0-9]+$/ { if (!done) { last = $1; total += $1 } }
      END { printf "%d %.2f %.3f\n", total, wall, longest }' "$OUT/retention-calls.txt")
    printf '| %s | %s | pgtq.apply_retention(10000) until 0 | %s | %s | %s | %s |\n' \
      "$rep" "$shape" "$total" "$wall" "$longest" "$(wal_mb "$start" "$end")"
  done
done
psqlc -c "TRUNCATE pgtq.finished_tasks" -c "DELETE FROM pgtq.retention"
