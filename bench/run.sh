#!/usr/bin/env bash
# pgtq benchmark: push, drain, pickup latency, history and memory figures for pgtq beside
# the pgbench floor, all against one private PostgreSQL 15 started here with the settings
# the peer measurements used. Prints a markdown table and writes PNG plots.
#
#   bench/run.sh                 full run: 3 repetitions, ~20 minutes on 2 cores
#   bench/run.sh --quick         1 repetition, fewer tasks: a smoke test of about a minute
#   bench/run.sh --soak 600      also run 600 s of steady push + drain for memory flatness
#
# Options: --reps N, --soak SECONDS (0: none; default 120), --soak-rate TASKS/S (1000),
#          --out DIR (default bench/results),
#          --build-dir DIR (default build-bench), --keep (leave the server running, print its DSN),
#          --profile (instead of the benchmark: bench/profile.sh, what bounds the figures),
#          --isolation (instead of the benchmark: pgtqd --isolation process against thread,
#          same server, alternating: drain of 20,000 no-op tasks and of 2,000 tasks of 1 ms at
#          concurrency 16, and pickup latency; medians of --reps, with the ratios),
#          --retention (instead of the benchmark: bench/retention.sh, removing a large history
#          kept in one table and in daily partitions, by pgtq.prune and by
#          pgtq.apply_retention),
#          --rescue (instead of the benchmark: bench/rescue.sh, how soon the running tasks of
#          a pgtqd killed with -9 run again on another, 10 kills, with the early rescue and
#          without),
#          --ab DIR (instead of the benchmark: the build in DIR, made before a change with the
#          same commands as --build-dir, against --build-dir, after it; one server, a database
#          each, alternating within each repetition (and which goes first, from one
#          repetition to the next): single and 16-client push, bulk push,
#          drain at the defaults and at concurrency 32 prefetch 32, pickup latency, and the
#          defaults' drain over 10 and 1,000 fairness keys (after only); medians of --reps
#          with after/before ratios)
# Everything it needs is installed with apt-get when missing.
set -euo pipefail
source "$(dirname "$0")/../scripts/lib/common.sh"
BENCH_DIR="$PGTQ_ROOT/bench"

QUICK=0 REPS=3 SOAK=120 KEEP=0 SOAK_RATE=1000 PROFILE=0 ISOLATION=0 RETENTION=0 RESCUE=0
OUT="$BENCH_DIR/results"
BUILD_DIR="$PGTQ_ROOT/build-bench"
while [ $# -gt 0 ]; do
  case "$1" in
    --quick) QUICK=1; REPS=1; SOAK=10 ;;
    --reps) REPS=$2; shift ;;
    --soak) SOAK=$2; shift ;;
    --soak-rate) SOAK_RATE=$2; shift ;;
    --out) OUT=$2; shift ;;
    --build-dir) BUILD_DIR=$2; shift ;;
    --keep) KEEP=1 ;;
    --profile) PROFILE=1 ;;
    --isolation) ISOLATION=1 ;;
    --retention) RETENTION=1 ;;
    --rescue) RESCUE=1 ;;
    --ab) AB_DIR=$2; shift ;;
    -h|--help) sed -n '2,30p' "$0"; exit 0 ;;
    *) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

# Sizes. The full run follows the peers' method (20,000 tasks per throughput figure,
# 20 + 200 latency tasks 10 ms apart); quick mode scales everything down.
# Single pushes and the per-job floor are bounded by time (PGB_SECS) as well as count, and
# concurrency 1 and 4 drain SMALL_DRAIN tasks: at one fsync per commit they run at a few
# hundred tasks/s on a slow disk, and the rate does not depend on the queue's length.
if [ "$QUICK" = 1 ]; then
  PUSH_TASKS=20000 BULK_TASKS=5000 DRAIN_TASKS=5000 SMALL_DRAIN=1000 CONCURRENCY="1 4 8 16 32"
  LAT_WARMUP=5 LAT_TASKS=50 HISTORY_SIZES="0 100000" PGB_SECS=3
else
  PUSH_TASKS=20000 BULK_TASKS=100000 DRAIN_TASKS=20000 SMALL_DRAIN=5000 CONCURRENCY="1 4 8 16 32"
  LAT_WARMUP=20 LAT_TASKS=200 HISTORY_SIZES="0 100000 1000000" PGB_SECS=10
fi
HISTORY_CONCURRENCY=16
# Concurrent pushing clients (one task per transaction each).
PUSHERS=16

# Server settings, identical to the peer run (/work/shared/peers/lib/cluster.sh).
PG_SETTINGS=(
  "max_connections=200" "shared_buffers=512MB" "maintenance_work_mem=256MB"
  "wal_buffers=16MB" "max_wal_size=8GB" "min_wal_size=1GB" "checkpoint_timeout=30min"
  "synchronous_commit=on" "fsync=on" "full_page_writes=on" "autovacuum=on" "jit=off"
  "log_min_messages=warning"
)

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# ------------------------------------------------------------------ install and build
ensure_packages "${PGTQ_BUILD_PACKAGES[@]}" "${PGTQ_SERVER_PACKAGES[@]}" gnuplot-nox python3
build_pgtq "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF
cmake --build "$BUILD_DIR" -j"$(nproc)" --target pgtqd pgtqctl noop pgtq_bench bench_stamp \
  -- --no-print-directory >/dev/null
BENCH="$BUILD_DIR/bench/pgtq-bench"
PGTQD="$BUILD_DIR/daemon/pgtqd"
# pgtqd loads every plugin in its directory: only noop (the example) and stamp here.
PLUGINS="$BUILD_DIR/bench/plugins"
# A copy, not a symlink: pgtqd refuses symlinks that lead out of its plugin directory.
rm -f "$PLUGINS/noop.so"
cp "$BUILD_DIR/plugins/noop.so" "$PLUGINS/noop.so"

mkdir -p "$OUT"
RAW="$OUT/raw.jsonl"
: > "$RAW"
DAEMON_LOG="$OUT/pgtqd.log"
: > "$DAEMON_LOG"

# ------------------------------------------------------------------ private server
PG_DIR=$(mktemp -d /tmp/pgtq-bench-pg.XXXXXX)
chmod 755 "$PG_DIR"
[ "$(id -u)" -eq 0 ] && chown postgres: "$PG_DIR"
stop_server() {
  if [ "$KEEP" = 1 ]; then log "server left running: $DSN (data in $PG_DIR)"; return; fi
  pg_run "$PGTQ_PG_BIN/pg_ctl" -D "$PG_DIR/data" -m fast -w stop >/dev/null 2>&1 || true
  cp "$PG_DIR/server.log" "$OUT/server.log" 2>/dev/null || true
  rm -rf "$PG_DIR"
}
trap stop_server EXIT

# TCP on loopback, as in the peer run; the first free port from 55600 up.
PORT=55600
while (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; do PORT=$((PORT + 1)); done
pg_run "$PGTQ_PG_BIN/initdb" -D "$PG_DIR/data" -U postgres -A trust -E UTF8 --locale=C \
  >"$PG_DIR/initdb.log" 2>&1 || { cat "$PG_DIR/initdb.log" >&2; exit 1; }
{
  echo "listen_addresses='127.0.0.1'"
  echo "port=$PORT"
  echo "unix_socket_directories='$PG_DIR'"
  for setting in "${PG_SETTINGS[@]}"; do echo "${setting%%=*}='${setting#*=}'"; done
} | pg_run tee -a "$PG_DIR/data/postgresql.conf" >/dev/null
pg_run "$PGTQ_PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 60 start >/dev/null
export PGHOST=127.0.0.1 PGPORT=$PORT PGUSER=postgres PGDATABASE=bench
DSN="host=127.0.0.1 port=$PORT user=postgres dbname=bench"
psqlc() { "$PGTQ_PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -At "$@"; }
psqlc -d postgres -c "CREATE DATABASE bench"
"$BUILD_DIR/daemon/pgtqctl" --dsn "$DSN" migrate >/dev/null
psqlc -f "$BENCH_DIR/sql/floor_schema.sql" 2>/dev/null
log "PostgreSQL $(psqlc -c 'SHOW server_version') on 127.0.0.1:$PORT, data in $PG_DIR"

# ------------------------------------------------------------------ machine and settings
# The disk's flush latency bounds every commit-per-task figure; it is part of the machine.
# It varies on a shared host, so it is probed again at each repetition and at the end.
probe_fsync() {
  pg_run "$PGTQ_PG_BIN/pg_test_fsync" -s 2 -f "$PG_DIR/fsync.probe" 2>/dev/null |
    awk '/^ +fdatasync/ {print $2; exit}'
  pg_run rm -f "$PG_DIR/fsync.probe"
}
fsync_record() {
  printf '{"figure":"fsync_probe","config":"%s","per_s":%s,"loadavg":"%s"}\n' \
    "$1" "$(probe_fsync)" "$(cut -d' ' -f1-3 /proc/loadavg)" | tee -a "$RAW" >&2
}
FSYNC_OPS=$(probe_fsync)
{
  printf '{"nproc": %s, ' "$(nproc)"
  printf '"mem_gib": %s, ' "$(awk '/MemTotal/ {printf "%.1f", $2/1048576}' /proc/meminfo)"
  printf '"cpu": "%s", ' "$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)"
  printf '"os": "%s", ' "$(. /etc/os-release; echo "$PRETTY_NAME") (Debian $(cat /etc/debian_version 2>/dev/null))"
  printf '"kernel": "%s", ' "$(uname -r)"
  printf '"fdatasync_per_s": %s, ' "${FSYNC_OPS:-0}"
  printf '"loadavg": "%s", ' "$(cut -d' ' -f1-3 /proc/loadavg)"
  printf '"pg_version": "%s", ' "$(psqlc -c 'SELECT version()')"
  printf '"pgtq_commit": "%s", ' "$(git -C "$PGTQ_ROOT" rev-parse --short HEAD 2>/dev/null || echo unknown)"
  printf '"pgtq_dirty": %s, ' "$([ -n "$(git -C "$PGTQ_ROOT" status --porcelain -- daemon sql plugin-api 2>/dev/null)" ] && echo true || echo false)"
  printf '"quick": %s, "reps": %s, "date": "%s", ' "$([ "$QUICK" = 1 ] && echo true || echo false)" "$REPS" "$(date -u +%Y-%m-%dT%H:%MZ)"
  printf '"settings": %s}\n' "$(psqlc -c "SELECT json_object_agg(name, current_setting(name) ORDER BY name) FROM pg_settings WHERE name IN ('shared_buffers','max_connections','synchronous_commit','fsync','full_page_writes','wal_sync_method','wal_buffers','max_wal_size','min_wal_size','checkpoint_timeout','autovacuum','jit','maintenance_work_mem','work_mem','wal_level','listen_addresses')")"
} > "$OUT/env.json"

if [ "$PROFILE" = 1 ]; then
  export DSN BENCH PGTQD PLUGINS PGTQ_PG_BIN BENCH_DIR OUT PGB_SECS
  "$BENCH_DIR/profile.sh" | tee "$OUT/profile.md"
  exit 0
fi

if [ "$RETENTION" = 1 ]; then
  export DSN PGTQ_PG_BIN BENCH_DIR OUT PGB_SECS REPS QUICK
  "$BENCH_DIR/retention.sh" | tee "$OUT/retention.md"
  exit 0
fi

if [ "$RESCUE" = 1 ]; then
  PLUGIN_DIR="$BUILD_DIR/plugins"
  export DSN PGTQD PGTQ_PG_BIN OUT QUICK PLUGIN_DIR
  "$BENCH_DIR/rescue.sh" | tee "$OUT/rescue.md"
  exit 0
fi

# ------------------------------------------------------------------ isolation
# Process against thread mode, alternating within each repetition so that a noisy minute on
# the host hits both. 1 ms tasks are stamp.so's pause_1ms.
if [ "$ISOLATION" = 1 ]; then
  if [ "$QUICK" = 1 ]; then ISO_NOOP=2000 ISO_PAUSE=200 ISO_LAT=50; else ISO_NOOP=20000 ISO_PAUSE=2000 ISO_LAT=200; fi
  ISO_RAW="$OUT/isolation.jsonl"
  : > "$ISO_RAW"
  for REP in $(seq 1 "$REPS"); do
    for mode in thread process; do
      log "isolation = $mode, rep $REP"
      psqlc -c "TRUNCATE pgtq.finished_tasks"
      for spec in "noop $ISO_NOOP" "pause_1ms $ISO_PAUSE"; do
        set -- $spec
        "$BENCH" --dsn "$DSN" --rep "$REP" --pgtqd "$PGTQD" --plugin-dir "$PLUGINS" \
          --daemon-log "$DAEMON_LOG" --isolation "$mode" --task "$1" \
          drain --tasks "$2" --concurrency 16 | tee -a "$ISO_RAW" >&2
      done
      "$BENCH" --dsn "$DSN" --rep "$REP" --pgtqd "$PGTQD" --plugin-dir "$PLUGINS" \
        --daemon-log "$DAEMON_LOG" --isolation "$mode" \
        latency --warmup "$LAT_WARMUP" --tasks "$ISO_LAT" --interval-ms 10 --concurrency 1 |
        tee -a "$ISO_RAW" >&2
    done
  done
  /usr/bin/python3 - "$ISO_RAW" <<'REPORT' | tee "$OUT/isolation.md"
import json, statistics, sys
rows = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
def median(figure, mode, field, task=None):
    values = [r[field] for r in rows if r["figure"] == figure and r["isolation"] == mode
              and (task is None or r.get("task") == task)]
    return statistics.median(values) if values else float("nan")
print("| figure | thread | process | process / thread |")
print("|---|---|---|---|")
for label, figure, field, task in [
        ("drain, no-op tasks (tasks/s)", "drain", "per_s", "noop"),
        ("drain, 1 ms tasks (tasks/s)", "drain", "per_s", "pause_1ms"),
        ("drain, no-op: pgtqd CPU (s)", "drain", "pgtqd_cpu_s", "noop"),
        ("pickup latency p50 (ms)", "latency", "p50_ms", None),
        ("pickup latency p95 (ms)", "latency", "p95_ms", None)]:
    t, p = median(figure, "thread", field, task), median(figure, "process", field, task)
    print(f"| {label} | {t:.2f} | {p:.2f} | {p / t:.3f} |")
print(f"\nmedians of {max(r['rep'] for r in rows)} repetition(s); pgtqd CPU counts pgtqd alone, not its workers")
REPORT
  exit 0
fi

# ------------------------------------------------------------------ floor (pgbench)
# jobs/s = tps x jobs actually done / transactions, as in the peer run: SKIP LOCKED can
# hand a client fewer than 100 rows, and a run's leftovers are not counted.
pgbench_run() {   # pgbench args...; prints "transactions tps"
  local out
  out=$("$PGTQ_PG_BIN/pgbench" -n -M prepared "$@" 2>&1) || { echo "$out" >&2; echo "0 0"; return; }
  echo "$out" | awk '/actually processed/ {split($0,a,": "); split(a[2],b,"/"); tx=b[1]}
                     /^tps =/ {tps=$3} END {print tx+0, tps+0}'
}
floor_record() {  # figure clients transactions tps jobs_done
  awk -v f="$1" -v c="$2" -v tx="$3" -v tps="$4" -v done="$5" -v rep="$REP" 'BEGIN {
    printf "{\"figure\":\"%s\",\"config\":\"clients=%d\",\"clients\":%d,\"rep\":%d,\"tx\":%d,\"tps\":%.2f,\"tasks\":%d,\"per_s\":%.1f}\n",
           f, c, c, rep, tx, tps, done, (tx > 0) ? tps * done / tx : 0 }' | tee -a "$RAW" >&2
}
floor_enqueue() {  # figure script jobs_per_tx
  local tx tps
  psqlc -c "TRUNCATE floor_jobs" -c "VACUUM ANALYZE floor_jobs"
  read -r tx tps < <(pgbench_run -f "$BENCH_DIR/sql/$2.sql" -c 1 -j 1 -T "$PGB_SECS")
  floor_record "$1" 1 "$tx" "$tps" $((tx * $3))
}
floor_drain() {    # figure script jobs_per_tx clients
  local tx tps left limit queued=$DRAIN_TASKS
  # Per job: PGB_SECS against a queue too long to empty in that time (so no idle claims
  # count); batched: the whole queue, as in the peer run.
  if [ "$3" = 1 ]; then queued=100000 limit=(-T "$PGB_SECS"); else limit=(-t $((DRAIN_TASKS / $3 / $4))); fi
  psqlc -c "TRUNCATE floor_jobs" \
        -c "INSERT INTO floor_jobs (payload) SELECT '{\"n\":1}'::jsonb FROM generate_series(1, $queued)" \
        -c "VACUUM ANALYZE floor_jobs"
  read -r tx tps < <(pgbench_run -f "$BENCH_DIR/sql/$2.sql" -c "$4" -j "$4" "${limit[@]}")
  left=$(psqlc -c "SELECT count(*) FROM floor_jobs")
  [ "$left" -gt 0 ] || [ "$3" != 1 ] || log "warning: the per-job floor emptied its queue; its rate is low"
  floor_record "$1" "$4" "$tx" "$tps" $((queued - left))
}
floor_all() {
  log "floor (pgbench), rep $REP"
  floor_enqueue floor_enqueue_single enqueue_single 1
  floor_enqueue floor_enqueue_bulk enqueue_bulk1000 1000
  for c in 1 4; do floor_drain floor_drain_perjob drain_perjob 1 "$c"; done
  for c in 1 4; do floor_drain floor_drain_batch100 drain_batch100 100 "$c"; done
  psqlc -c "TRUNCATE floor_jobs" -c "VACUUM floor_jobs"
  # PUSHERS clients, one task per transaction: a plain INSERT of a live_tasks-shaped row,
  # then pgtq.push (with no pgtqd running), back to back.
  local tx tps
  psqlc -c "TRUNCATE floor_push_like"
  read -r tx tps < <(pgbench_run -f "$BENCH_DIR/sql/push_insert_like.sql" -c "$PUSHERS" -j "$PUSHERS" -T "$PGB_SECS")
  floor_record floor_push_insert "$PUSHERS" "$tx" "$tps" "$tx"
  psqlc -c "TRUNCATE floor_push_like"
  psqlc -c "TRUNCATE pgtq.live_tasks"
  read -r tx tps < <(pgbench_run -f "$BENCH_DIR/sql/push_pgtq.sql" -c "$PUSHERS" -j "$PUSHERS" -T "$PGB_SECS")
  floor_record push_concurrent "$PUSHERS" "$tx" "$tps" "$tx"
  psqlc -c "TRUNCATE pgtq.live_tasks"
}

# ------------------------------------------------------------------ before/after
# Two builds on one server, each with its own database migrated by its own pgtqctl, so that a
# change to the SQL is measured with the binaries that go with it. Alternating within each
# repetition: a noisy minute on the host hits both.
if [ -n "${AB_DIR:-}" ]; then
  for binary in daemon/pgtqd daemon/pgtqctl bench/pgtq-bench plugins/noop.so; do
    [ -e "$AB_DIR/$binary" ] || { echo "--ab: $AB_DIR/$binary is missing (build it first)" >&2; exit 2; }
  done
  mkdir -p "$AB_DIR/bench/plugins"
  rm -f "$AB_DIR/bench/plugins/noop.so"
  cp "$AB_DIR/plugins/noop.so" "$AB_DIR/bench/plugins/noop.so"
  BEFORE_DSN="host=127.0.0.1 port=$PORT user=postgres dbname=bench_before"
  psqlc -d postgres -c "CREATE DATABASE bench_before"
  "$AB_DIR/daemon/pgtqctl" --dsn "$BEFORE_DSN" migrate >/dev/null
  AB_RAW="$OUT/ab.jsonl"
  : > "$AB_RAW"
  ab_bench() {  # side subcommand args...
    local side=$1; shift
    if [ "$side" = before ]; then
      "$AB_DIR/bench/pgtq-bench" --dsn "$BEFORE_DSN" --rep "$REP" --pgtqd "$AB_DIR/daemon/pgtqd" \
        --plugin-dir "$AB_DIR/bench/plugins" --daemon-log "$DAEMON_LOG" "$@"
    else
      "$BENCH" --dsn "$DSN" --rep "$REP" --pgtqd "$PGTQD" --plugin-dir "$PLUGINS" \
        --daemon-log "$DAEMON_LOG" "$@"
    fi | sed "s/^{/{\"side\":\"$side\",/" | tee -a "$AB_RAW" >&2
  }
  ab_pushers() {  # side: PUSHERS clients, one pgtq.push per transaction
    local side=$1 db=bench tx tps
    [ "$side" = before ] && db=bench_before
    psqlc -d "$db" -c "TRUNCATE pgtq.live_tasks"
    read -r tx tps < <(PGDATABASE="$db" pgbench_run -f "$BENCH_DIR/sql/push_pgtq.sql" -c "$PUSHERS" -j "$PUSHERS" -T "$PGB_SECS")
    echo "{\"side\":\"$side\",\"figure\":\"push_concurrent\",\"config\":\"clients=$PUSHERS\",\"rep\":$REP,\"per_s\":$tps}" |
      tee -a "$AB_RAW" >&2
    psqlc -d "$db" -c "TRUNCATE pgtq.live_tasks"
  }
  for REP in $(seq 1 "$REPS"); do
    # Which side goes first alternates too: the disk's flush rate drifts within a repetition.
    sides="before after"; [ $((REP % 2)) = 0 ] && sides="after before"
    for side in $sides; do
      log "before/after: $side, rep $REP"
      db=bench; [ "$side" = before ] && db=bench_before
      psqlc -d "$db" -c "TRUNCATE pgtq.finished_tasks"
      ab_bench "$side" push-single --mode client --tasks "$PUSH_TASKS" --seconds "$PGB_SECS"
      ab_bench "$side" push-bulk --tasks "$BULK_TASKS" --batch 1000
      ab_pushers "$side"
      psqlc -d "$db" -c "TRUNCATE pgtq.finished_tasks"
      ab_bench "$side" drain --tasks "$DRAIN_TASKS" --concurrency 8
      psqlc -d "$db" -c "TRUNCATE pgtq.finished_tasks"
      ab_bench "$side" drain --tasks "$DRAIN_TASKS" --concurrency 32 --prefetch 32
      psqlc -d "$db" -c "TRUNCATE pgtq.finished_tasks"
      ab_bench "$side" latency --warmup "$LAT_WARMUP" --tasks "$LAT_TASKS" --interval-ms 10 --concurrency 1
    done
    for keys in 10 1000; do
      psqlc -c "TRUNCATE pgtq.finished_tasks"
      ab_bench after --fairness-keys "$keys" drain --tasks "$DRAIN_TASKS" --concurrency 8
    done
  done
  /usr/bin/python3 - "$AB_RAW" <<'REPORT' | tee "$OUT/ab.md"
import json, statistics, sys
rows = [json.loads(line) for line in open(sys.argv[1]) if line.strip()]
def key(r):
    return (r["figure"], r.get("config", ""), r.get("mode", ""))
figures = []
for r in rows:
    if key(r) not in figures:
        figures.append(key(r))
def median(side, k, field):
    values = [r[field] for r in rows if r["side"] == side and key(r) == k and field in r]
    return statistics.median(values) if values else None
print("| figure | before | after | after / before |")
print("|---|---:|---:|---:|")
for k in figures:
    for field, unit in (("per_s", "/s"), ("p50_ms", " ms p50"), ("p99_ms", " ms p99")):
        b, a = median("before", k, field), median("after", k, field)
        if a is None and b is None:
            continue
        name = " ".join(x for x in k if x) + unit
        show = lambda v: "" if v is None else (f"{v:,.0f}" if field == "per_s" else f"{v:.2f}")
        ratio = f"{a / b:.3f}" if a is not None and b else ""
        print(f"| {name} | {show(b)} | {show(a)} | {ratio} |")
print(f"\nmedians of {max(r['rep'] for r in rows)} repetition(s), sides alternated in each")
REPORT
  exit 0
fi

# ------------------------------------------------------------------ pgtq
bench() {  # subcommand args...
  "$BENCH" --dsn "$DSN" --rep "$REP" --pgtqd "$PGTQD" --plugin-dir "$PLUGINS" \
    --daemon-log "$DAEMON_LOG" "$@" | tee -a "$RAW" >&2
}
pgtq_all() {
  log "pgtq push, rep $REP"
  psqlc -c "TRUNCATE pgtq.finished_tasks"
  bench push-single --mode client --tasks "$PUSH_TASKS" --seconds "$PGB_SECS"
  bench push-single --mode prepared --tasks "$PUSH_TASKS" --seconds "$PGB_SECS"
  bench push-bulk --tasks "$BULK_TASKS" --batch 1000
  log "pgtq drain, rep $REP"
  for c in $CONCURRENCY; do
    psqlc -c "TRUNCATE pgtq.finished_tasks"
    bench drain --tasks "$([ "$c" -ge 8 ] && echo "$DRAIN_TASKS" || echo "$SMALL_DRAIN")" \
      --concurrency "$c" --prefetch 0
  done
  # pgtqd's defaults: concurrency 8, prefetch auto, isolation process.
  psqlc -c "TRUNCATE pgtq.finished_tasks"
  bench drain --tasks "$DRAIN_TASKS" --concurrency 8
  # The throughput setting: claims run ahead of the workers, in batches twice as large.
  psqlc -c "TRUNCATE pgtq.finished_tasks"
  bench drain --tasks "$DRAIN_TASKS" --concurrency 32 --prefetch 32
  log "pgtq pickup latency, rep $REP"
  bench latency --warmup "$LAT_WARMUP" --tasks "$LAT_TASKS" --interval-ms 10 --concurrency 1
  psqlc -c "TRUNCATE pgtq.finished_tasks"
}

START=$(date +%s)
# Repetitions are the outer loop, so that a noisy minute on the host hits every figure.
for REP in $(seq 1 "$REPS"); do
  fsync_record "rep $REP"
  floor_all
  pgtq_all
done

# History: the same drain with N finished tasks already kept. Each size is built once and
# drained REPS times (each drain adds its own tasks to the history, 2 % of 1M).
for size in $HISTORY_SIZES; do
  log "drain with $size finished tasks in history"
  REP=0 bench history --rows "$size" 2>&1 | tail -1 >&2
  for REP in $(seq 1 "$REPS"); do
    bench drain --tasks "$DRAIN_TASKS" --concurrency "$HISTORY_CONCURRENCY" --prefetch 0
  done
done
psqlc -c "TRUNCATE pgtq.finished_tasks" -c "VACUUM pgtq.finished_tasks"

if [ "$SOAK" -gt 0 ]; then
  log "soak: $SOAK s of steady push + drain, concurrency 16"
  REP=1 bench soak --seconds "$SOAK" --concurrency 16 --rate "$SOAK_RATE"
fi
fsync_record end
log "measured in $(( $(date +%s) - START )) s"

# ------------------------------------------------------------------ report
/usr/bin/python3 "$BENCH_DIR/report.py" --raw "$RAW" --env "$OUT/env.json" --out "$OUT" \
  --peers "$BENCH_DIR/peers.json" > "$OUT/report.md"
( cd "$OUT" && gnuplot "$BENCH_DIR/plots.gp" )
cat "$OUT/report.md"
log "report: $OUT/report.md; plots: $OUT/drain_vs_workers.png, $OUT/drain_vs_history.png"
