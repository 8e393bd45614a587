#!/usr/bin/env bash
# How soon a killed pgtqd's tasks run again: run by `bench/run.sh --rescue` against its private
# server (environment: DSN, PGTQD, PGTQ_PG_BIN, PLUGIN_DIR, OUT, QUICK).
#   A pgtqd at the defaults (lease 15 s, heartbeat 5 s, session-grace 1 s, scheduler-interval
#   1 s) runs 4 tasks that sleep for a minute; a second one, idle, serves the same queue. The
#   first is killed with -9, and the time from the kill (the database's clock, read just
#   before it) to the start of the last of its 4 tasks on the survivor is measured. 10 kills
#   (3 with --quick); each kill's time, then their median and maximum. The survivor has run
#   for longer than a heartbeat when the kill comes, as it would in production. The same with
#   session-grace at the lease (the early rescue off: the tasks wait for their leases) for
#   comparison, 2 kills (1 with --quick).
set -euo pipefail
psqlc() { "$PGTQ_PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -At "$@"; }
KILLS=$([ "$QUICK" = 1 ] && echo 3 || echo 10)
SLOW_KILLS=$([ "$QUICK" = 1 ] && echo 1 || echo 2)
LOGS="$OUT/rescue-logs"
mkdir -p "$LOGS"

daemon() { # name, extra options...
  local name=$1
  shift
  "$PGTQD" --dsn "$DSN" --queue rescue --plugin-dir "$PLUGIN_DIR" --concurrency 4 \
    --prefetch 0 --log-level debug "$@" >>"$LOGS/$name.log" 2>&1 &
  echo $!
}

wait_for() { # SQL returning t, seconds
  local deadline=$((SECONDS + $2))
  until [ "$(psqlc -c "$1")" = t ]; do
    if [ $SECONDS -ge $deadline ]; then
      echo "timed out waiting for: $1" >&2
      return 1
    fi
    sleep 0.01
  done
}

# One kill: prints the seconds from the kill to the last of the victim's tasks started again.
one_kill() { # extra pgtqd options...
  psqlc -c "DELETE FROM pgtq.live_tasks WHERE queue = 'rescue'" \
    -c "DELETE FROM pgtq.workers WHERE queue = 'rescue'"
  local victim survivor
  victim=$(daemon victim "$@")
  psqlc -c "SELECT pgtq.push('rescue', 'sleep', '[60]') FROM generate_series(1, 4)" >/dev/null
  wait_for "SELECT count(*) = 4 FROM pgtq.live_tasks WHERE queue = 'rescue' AND state = 'running'" 30
  survivor=$(daemon survivor "$@")
  wait_for "SELECT count(*) = 2 FROM pgtq.live_workers WHERE queue = 'rescue'" 30
  # As in production, where the survivor has run for a while: a sweep trusts what it sees
  # once its session is older than the victim's heartbeat (5 s).
  sleep 5.5
  local killed_at
  killed_at=$(psqlc -c "SELECT clock_timestamp()")
  kill -9 "$victim"
  wait "$victim" 2>/dev/null || true
  wait_for "SELECT count(*) = 4 FROM pgtq.live_tasks WHERE queue = 'rescue' AND claims = 2
              AND state = 'running'" 60
  psqlc -c "SELECT round(extract(epoch FROM max(started_at) - '$killed_at'::timestamptz)::numeric, 2)
              FROM pgtq.live_tasks WHERE queue = 'rescue'"
  kill -TERM "$survivor"
  # Its tasks sleep for a minute: the stop releases them after the grace.
  kill -KILL "$survivor" 2>/dev/null || true
  wait "$survivor" 2>/dev/null || true
}

summary() { # label, times...
  local label=$1
  shift
  printf '%s\n' "$@" | sort -n | awk -v label="$label" '
    { t[NR] = $1 }
    END {
      median = NR % 2 ? t[(NR + 1) / 2] : (t[NR / 2] + t[NR / 2 + 1]) / 2
      printf "| %s | %d | %s | %.2f | %.2f |\n", label, NR, all, median, t[NR]
    }' all="$(printf '%s ' "$@")"
}

echo "### A killed pgtqd's 4 running tasks, from the kill to the last one started again (s)"
echo
echo "| settings | kills | each | median | max |"
echo "|---|---:|---|---:|---:|"
fast=()
for _ in $(seq 1 "$KILLS"); do
  fast+=("$(one_kill)")
done
summary "defaults (session-grace 1 s)" "${fast[@]}"
slow=()
for _ in $(seq 1 "$SLOW_KILLS"); do
  slow+=("$(one_kill --session-grace 15)")
done
summary "session-grace 15 s (= lease: no early rescue)" "${slow[@]}"
