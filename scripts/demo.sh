#!/usr/bin/env bash
# The main job, end to end: installs what is missing (apt-get), builds pgtq, starts a
# private PostgreSQL 15 (unless PGTQ_DSN names a database to use), migrates it, starts
# pgtqd with the example plugins, pushes tasks through SQL and through the C++ client
# header, waits for them and prints their results, then stops everything cleanly.
# Safe to run again: each run uses a fresh private server (or the same PGTQ_DSN database).
set -euo pipefail
source "$(dirname "$0")/lib/common.sh"

build_dir="${PGTQ_BUILD_DIR:-$PGTQ_ROOT/build}"
queue=demo
ensure_packages "${PGTQ_BUILD_PACKAGES[@]}" "${PGTQ_SERVER_PACKAGES[@]}" curl
build_pgtq "$build_dir"

if [ -n "${PGTQ_DSN:-}" ]; then
  dsn="$PGTQ_DSN"
  say "using the database in PGTQ_DSN"
else
  start_private_postgres
  dsn="$PGTQ_PG_DSN"
fi
sql() { psql -X -q -A -t -v ON_ERROR_STOP=1 "$dsn" "$@"; }

say "migrating the pgtq schema"
"$build_dir/daemon/pgtqctl" --dsn "$dsn" migrate

# Least privilege: on the private server, pgtqd runs as a login with pgtq_worker's rights
# only and the C++ client pushes as one with pgtq_pusher's (README: Database roles).
worker_dsn="$dsn"
app_dsn="$dsn"
if [ -z "${PGTQ_DSN:-}" ]; then
  say "database roles: pgtqd logs in as demo_worker (pgtq_worker), the C++ client as demo_app (pgtq_pusher)"
  sql -c "CREATE ROLE demo_worker LOGIN" -c "GRANT pgtq_worker TO demo_worker" \
    -c "CREATE ROLE demo_app LOGIN" -c "GRANT pgtq_pusher TO demo_app"
  worker_dsn="$dsn user=demo_worker"
  app_dsn="$dsn user=demo_app"
  echo "demo_app may push, and may not write the table behind it:"
  psql -X -q -A -t "$app_dsn" -c "INSERT INTO pgtq.live_tasks (queue, task, args, state, run_at, max_attempts) VALUES ('x', 'x', '[]', 'running', now(), 1)" 2>&1 | sed 's/^/  /' || true
fi

daemon_log="$(mktemp /tmp/pgtqd-demo.XXXXXX.log)"
say "starting pgtqd for queues '$queue' and 'bulk', which share 4 workers 3 : 1, and queue 'reports' with a worker of its own (log: $daemon_log)"
"$build_dir/daemon/pgtqd" --queue "$queue" --queue bulk --queue reports=1 --dsn "$worker_dsn" \
  --plugin-dir "$build_dir/plugins" --concurrency 4 --shared-workers --queue-weights "$queue=3" \
  --backoff-base 0.5 --scheduler-interval 0.2 --metrics-listen 127.0.0.1:0 >"$daemon_log" 2>&1 &
daemon_pid=$!
stop_daemon() {
  if kill -0 "$daemon_pid" 2>/dev/null; then
    kill -TERM "$daemon_pid"
    wait "$daemon_pid" || true
  fi
}
trap 'stop_daemon; stop_private_postgres' EXIT

first_id=$(sql -c "SELECT coalesce(max(id), 0) + 1 FROM pgtq.tasks")
say "pushing tasks with SQL, in one transaction"
sql <<SQL
BEGIN;
SELECT pgtq.push('$queue', 'add_numbers', '[2, 3]', tags => ARRAY['demo', 'math']);
SELECT pgtq.push('$queue', 'echo', '{"hello": "from SQL"}', tags => ARRAY['demo'],
                 metadata => '{"requested_by": "demo.sh"}');
SELECT pgtq.push('$queue', 'flaky', '{"fail_times": 2}');           -- fails twice, then succeeds
SELECT pgtq.push('$queue', 'crash_once', '[]');   -- segfaults its worker once: one attempt lost
SELECT pgtq.push('$queue', 'sleep', '[1]');
SELECT pgtq.push('$queue', 'add_numbers', '[40, 2]', delay => '2 seconds');
SELECT pgtq.push('$queue', 'add_numbers', '[1, "two"]');           -- bad args: fails for good
SELECT pgtq.push('$queue', 'sleep', '[30]', max_attempts => 1, timeout => '1 second');  -- stopped at 1 s
COMMIT;
SQL
say "pushing tasks with the C++ client header (pgtq_push_example)"
"$build_dir/bin/pgtq_push_example" --dsn "$app_dsn" --queue "$queue"

say "waiting for the tasks to finish"
for _ in $(seq 1 300); do
  left=$(sql -c "SELECT count(*) FROM pgtq.live_tasks WHERE queue = '$queue' AND id >= $first_id")
  [ "$left" -eq 0 ] && break
  sleep 0.2
done

say "results (SELECT … FROM pgtq.tasks)"
psql -X -P pager=off "$dsn" -c "
  SELECT id, task, args, state, attempts, result, last_error
    FROM pgtq.tasks WHERE queue = '$queue' AND id >= $first_id ORDER BY id"

say "retrying the task that timed out (pgtqctl retry --all, first as a dry run)"
"$build_dir/daemon/pgtqctl" --dsn "$dsn" retry --all --queue "$queue" --error 'timed out' --dry-run
"$build_dir/daemon/pgtqctl" --dsn "$dsn" retry --all --queue "$queue" --error 'timed out'
for _ in $(seq 1 100); do
  left=$(sql -c "SELECT count(*) FROM pgtq.live_tasks WHERE queue = '$queue' AND id >= $first_id")
  [ "$left" -eq 0 ] && break
  sleep 0.2
done
psql -X -P pager=off "$dsn" -c "
  SELECT id, task, state, attempts, jsonb_array_length(errors) AS errors_kept, last_error
    FROM pgtq.tasks WHERE queue = '$queue' AND id >= $first_id AND last_error LIKE '%timed out%'"

say "pausing the queue: a push waits, queued, until the queue is resumed (pgtqctl pause/resume)"
"$build_dir/daemon/pgtqctl" --dsn "$dsn" pause "$queue"
paused_id=$(sql -c "SELECT pgtq.push('$queue', 'add_numbers', '[20, 22]')")
sleep 1
echo "task $paused_id after 1 s while paused: $(sql -c "SELECT state FROM pgtq.tasks WHERE id = $paused_id")"
"$build_dir/daemon/pgtqctl" --dsn "$dsn" resume "$queue"
for _ in $(seq 1 50); do
  state=$(sql -c "SELECT state FROM pgtq.tasks WHERE id = $paused_id")
  [ "$state" = succeeded ] && break
  sleep 0.1
done
echo "task $paused_id after resume: $state, result $(sql -c "SELECT result FROM pgtq.tasks WHERE id = $paused_id")"

say "unique tasks: three pushes of one key while its task waits or runs make one task"
for args in '[1]' '[2]' '[3]'; do
  echo "push of unique key 'report:daily' with args $args: task $(sql -c \
    "SELECT pgtq.push('$queue', 'sleep', '$args', unique_key => 'report:daily')")"
done
echo "tasks with that key: $(sql -c "SELECT count(*) FROM pgtq.tasks WHERE unique_key = 'report:daily'")"

say "a global concurrency limit: at most 2 of the queue's tasks run at once, on every pgtqd"
"$build_dir/daemon/pgtqctl" --dsn "$dsn" queue "$queue" --global-concurrency 2
sql -c "SELECT count(pgtq.push('$queue', 'sleep', '[0.5]')) FROM generate_series(1, 6)" >/dev/null
most=0
for _ in $(seq 1 200); do
  running=$(sql -c "SELECT count(*) FROM pgtq.live_tasks WHERE queue = '$queue' AND state = 'running'")
  [ "$running" -gt "$most" ] && most=$running
  left=$(sql -c "SELECT count(*) FROM pgtq.live_tasks WHERE queue = '$queue'")
  [ "$left" -eq 0 ] && break
  sleep 0.05
done
echo "6 tasks of 0.5 s ran; at most $most at once"
"$build_dir/daemon/pgtqctl" --dsn "$dsn" queue "$queue" --global-concurrency none

say "retention: the queue's succeeded tasks kept 0 s; pgtqd deletes them within 10 s (pgtqctl retention)"
succeeded=$(sql -c "SELECT count(*) FROM pgtq.finished_tasks WHERE queue = '$queue' AND state = 'succeeded'")
"$build_dir/daemon/pgtqctl" --dsn "$dsn" retention --queue "$queue" --state succeeded --keep '0 seconds'
waited=0
while [ "$(sql -c "SELECT count(*) FROM pgtq.finished_tasks WHERE queue = '$queue' AND state = 'succeeded'")" -gt 0 ] &&
      [ "$waited" -lt 150 ]; do
  sleep 0.1; waited=$((waited + 1))
done
echo "$succeeded succeeded tasks before; $(sql -c "SELECT count(*) FROM pgtq.tasks WHERE queue = '$queue' AND state = 'succeeded'") left after $((waited / 10)) s; failed and cancelled ones are kept"
"$build_dir/daemon/pgtqctl" --dsn "$dsn" retention --queue "$queue" --keep default

say "a second queue in the same pgtqd (--queue reports=1): its task runs while '$queue' is busy"
sql -c "SELECT count(pgtq.push('$queue', 'sleep', '[1]')) FROM generate_series(1, 8)" >/dev/null
report_id=$(sql -c "SELECT pgtq.push('reports', 'add_numbers', '[40, 2]')")
for _ in $(seq 1 100); do
  [ "$(sql -c "SELECT state FROM pgtq.tasks WHERE id = $report_id")" = succeeded ] && break
  sleep 0.05
done
echo "reports task $report_id: $(sql -c "SELECT state || ', result ' || result FROM pgtq.tasks WHERE id = $report_id"), with $(sql -c "SELECT count(*) FROM pgtq.live_tasks WHERE queue = '$queue'") tasks of '$queue' still queued or running"

say "fairness: tenant acme pushes 20 tasks and tenant zeta 3, in one transaction; claims take turns, and zeta (weight 2) takes two per turn"
"$build_dir/daemon/pgtqctl" --dsn "$dsn" queue reports --key-weight zeta=2 >/dev/null
sql -c "BEGIN" \
    -c "SELECT count(pgtq.push('reports', 'sleep', '[0.05]', fairness_key => 'acme')) FROM generate_series(1, 20)" \
    -c "SELECT count(pgtq.push('reports', 'sleep', '[0.05]', fairness_key => 'zeta')) FROM generate_series(1, 3)" \
    -c "COMMIT" >/dev/null
for _ in $(seq 1 100); do
  [ "$(sql -c "SELECT count(*) FROM pgtq.live_tasks WHERE queue = 'reports'")" -eq 0 ] && break
  sleep 0.05
done
echo "zeta's 3 tasks started before $(sql -c "SELECT count(*) FROM pgtq.tasks WHERE fairness_key = 'acme' AND started_at > (SELECT max(started_at) FROM pgtq.tasks WHERE fairness_key = 'zeta')") of acme's 20 (pushed first; without keys, they would wait for all 20)"

say "a rate limit per tenant: at most 2 tasks of each tenant started per second; acme and zeta push 4 each"
"$build_dir/daemon/pgtqctl" --dsn "$dsn" queue reports --key-rate-limit 2 --key-rate-period 1 | sed 's/; new tasks.*//'
sql -c "SELECT count(pgtq.push('reports', 'add_numbers', '[1, 2]', fairness_key => k)) FROM unnest('{acme,zeta}'::text[]) AS k, generate_series(1, 4)" >/dev/null
for _ in $(seq 1 100); do
  [ "$(sql -c "SELECT count(*) FROM pgtq.live_tasks WHERE queue = 'reports'")" -eq 0 ] && break
  sleep 0.05
done
sql -c "SELECT fairness_key || ': started at ' || string_agg(to_char(started_at, 'SS.MS'), ', ' ORDER BY started_at) || ' s' FROM pgtq.tasks WHERE queue = 'reports' AND task = 'add_numbers' AND fairness_key IS NOT NULL GROUP BY fairness_key ORDER BY 1"
"$build_dir/daemon/pgtqctl" --dsn "$dsn" queue reports --key-rate-limit none >/dev/null

say "shared workers: 'bulk' has all 4 while alone; once '$queue' has work too, they split 3 : 1 by weight"
sql -c "SELECT count(pgtq.push('bulk', 'sleep', '[0.3]')) FROM generate_series(1, 12)" >/dev/null
for _ in $(seq 1 100); do
  [ "$(sql -c "SELECT count(*) FROM pgtq.live_tasks WHERE queue = 'bulk' AND state = 'running'")" -eq 4 ] && break
  sleep 0.02
done
echo "bulk alone: $(sql -c "SELECT count(*) FROM pgtq.live_tasks WHERE queue = 'bulk' AND state = 'running'") running"
sql -c "SELECT count(pgtq.push('$queue', 'sleep', '[0.3]')) FROM generate_series(1, 12)" >/dev/null
for _ in $(seq 1 200); do
  [ "$(sql -c "SELECT count(*) FROM pgtq.live_tasks WHERE queue IN ('$queue', 'bulk')")" -eq 0 ] && break
  sleep 0.05
done
echo "tasks started while both had work: $(sql -c "SELECT string_agg(queue || ' ' || n, ', ' ORDER BY queue) FROM (SELECT queue, count(*) AS n FROM pgtq.tasks WHERE args = '[0.3]' AND started_at > (SELECT min(started_at) FROM pgtq.tasks WHERE queue = '$queue' AND args = '[0.3]') AND started_at < (SELECT max(started_at) FROM pgtq.tasks WHERE queue = '$queue' AND args = '[0.3]') GROUP BY queue) s")"

say "defaults for new tasks: the reports queue's tasks try twice and stop after 30 s unless pushed otherwise"
"$build_dir/daemon/pgtqctl" --dsn "$dsn" queue reports --default-max-attempts 2 --default-timeout '30 seconds'
default_id=$(sql -c "SELECT pgtq.push('reports', 'add_numbers', '[1, 1]')")
echo "task $default_id: $(sql -c "SELECT max_attempts || ' attempts, timeout ' || timeout FROM pgtq.tasks WHERE id = $default_id")"

say "tags and metadata: two tasks of an import, found again by tag and by metadata (pgtqctl list --tag)"
sql -c "SELECT pgtq.push('$queue', 'add_numbers', '[1, 2]', delay => '1 hour', tags => ARRAY['import:2026-12', 'customer:42'], metadata => '{\"file\": \"orders.csv\"}'), pgtq.push('$queue', 'add_numbers', '[3, 4]', delay => '1 hour', tags => ARRAY['import:2026-12'])" >/dev/null
"$build_dir/daemon/pgtqctl" --dsn "$dsn" list --tag import:2026-12
echo "metadata containing {\"file\": \"orders.csv\"}: task $(sql -c "SELECT string_agg(id::text, ', ') FROM pgtq.tasks WHERE metadata @> '{\"file\": \"orders.csv\"}'")"
echo "deleted: $(sql -c "SELECT count(pgtq.delete(id)) FROM pgtq.tasks WHERE tags @> ARRAY['import:2026-12']") task(s)"

say "waiting for a result: push a task, then wait for its end, woken by a notification the moment it ends (pgtqctl wait; pgtq::wait_for_task in C++)"
wait_id=$(sql -c "SELECT pgtq.push('$queue', 'sleep', '[0.2]')")
"$build_dir/daemon/pgtqctl" --dsn "$dsn" wait "$wait_id" --timeout 10

say "dependencies: three squares, and a sum that waits for them (pending) and reads their results; a dependent of a failed task is cancelled (queue reports)"
# In one transaction: the three parts, the sum that depends on them, and its state then.
read -r sum_id sum_state parts < <(sql -F ' ' <<'SQL' | tail -n 1
BEGIN;
CREATE TEMP TABLE parts AS SELECT id FROM pgtq.push_many('reports',
  '[{"task": "square", "args": {"x": 2}}, {"task": "square", "args": {"x": 3}},
    {"task": "square", "args": {"x": 4}}]') AS id;
CREATE TEMP TABLE total AS
  SELECT pgtq.push('reports', 'sum_parents', depends_on => (SELECT array_agg(id) FROM parts),
                   on_parent_failure => 'run') AS id;
SELECT t.id, t.state, t.depends_on FROM pgtq.tasks t JOIN total USING (id);
COMMIT;
SQL
)
echo "task $sum_id at its push: $sum_state, depends on $parts"
bad_id=$(sql -c "SELECT pgtq.push('reports', 'square', '{\"x\": \"two\"}', max_attempts => 1)")
doomed_id=$(sql -c "SELECT pgtq.push('reports', 'sum_parents', depends_on => ARRAY[$bad_id])")
"$build_dir/daemon/pgtqctl" --dsn "$dsn" wait "$sum_id" --timeout 20
"$build_dir/daemon/pgtqctl" --dsn "$dsn" wait "$doomed_id" --timeout 20 || true

say "follow-ups: fan_out pushes a square per x with its outcome; its first attempt crashes after pushing them, so only the second attempt's exist"
fan_id=$(sql -c "SELECT pgtq.push('reports', 'fan_out', '{\"xs\": [5, 6], \"crash\": true}')")
"$build_dir/daemon/pgtqctl" --dsn "$dsn" wait "$fan_id" --timeout 20
sleep 1
echo "squares pushed by task $fan_id: $(sql -c "SELECT count(*) || ' (results ' || string_agg(coalesce(result::text, state::text), ', ' ORDER BY id) || ')' FROM pgtq.tasks WHERE task = 'square' AND id > $fan_id")"

say "progress and checkpoints: count_to reports its progress while it runs; its first attempt crashes at 12, and the second resumes from its checkpoint"
count_id=$(sql -c "SELECT pgtq.push('reports', 'count_to', '{\"n\": 30, \"step_ms\": 100, \"crash_at\": 12}')")
sleep 2.5
echo "task $count_id while it runs: $(sql -c "SELECT state || ', attempt ' || attempts || ', progress ' || coalesce(progress::text, 'none') || ', checkpoint ' || coalesce(checkpoint::text, 'none') FROM pgtq.tasks WHERE id = $count_id")"
"$build_dir/daemon/pgtqctl" --dsn "$dsn" wait "$count_id" --timeout 30

say "a periodic task: schedule 'heartbeat' pushes add_numbers every second, one task per fire time, whatever the number of pgtqd (pgtqctl schedule)"
"$build_dir/daemon/pgtqctl" --dsn "$dsn" schedule heartbeat --queue "$queue" --task add_numbers \
  --args '[20, 22]' --every '1 second' --count 3
sleep 3.5
"$build_dir/daemon/pgtqctl" --dsn "$dsn" schedule heartbeat --delete
echo "fire times pushed: $(sql -c "SELECT string_agg(to_char(run_at, 'HH24:MI:SS') || ' (task ' || id || ', ' || state || ')', ', ' ORDER BY run_at) FROM pgtq.tasks WHERE unique_key LIKE 'pgtq.schedule:heartbeat@%'")"
echo "a cron schedule reads its time zone's clock: 02:30 in Berlin around the 2027 spring change (UTC): $(sql -c "SELECT string_agg(to_char(t AT TIME ZONE 'UTC', 'Mon DD HH24:MI'), ', ') FROM pgtq.cron_fire_times('30 2 * * *', 'Europe/Berlin', 3, '2027-03-27 00:00Z') t")"

say "the workers that serve the queues (pgtqctl workers: a row per queue)"
"$build_dir/daemon/pgtqctl" --dsn "$dsn" workers

say "a live view of the queues (pgtqctl top; --once prints one frame)"
"$build_dir/daemon/pgtqctl" --dsn "$dsn" top --once

say "everything about one task: the one that timed out and was retried (pgtqctl show)"
timed_out_id=$(sql -c "SELECT id FROM pgtq.tasks WHERE errors::text LIKE '%timed out%' ORDER BY id LIMIT 1")
[ -n "$timed_out_id" ] && "$build_dir/daemon/pgtqctl" --dsn "$dsn" show "$timed_out_id"

say "Prometheus metrics from pgtqd (metrics-listen; a selection of GET /metrics)"
metrics_port=$(grep -o 'metrics served at http://127.0.0.1:[0-9]*' "$daemon_log" | grep -o '[0-9]*$')
exec 3<>"/dev/tcp/127.0.0.1/$metrics_port"
printf 'GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3
grep -E '^pgtq_(queue_tasks\{queue="'"$queue"'"|attempts_total\{queue="'"$queue"'",task="(add_numbers|flaky)"|handler_duration_seconds_count|rescued_tasks_total|queue_oldest)' <&3 |
  grep -v ' 0$' | head -20
exec 3<&-

say "kill -9 of a pgtqd: its running task runs again on another pgtqd within seconds, not after its 15 s lease"
jobs_daemon() {
  "$build_dir/daemon/pgtqd" --queue jobs --dsn "$dsn" --plugin-dir "$build_dir/plugins" \
    --concurrency 1 --heartbeat 1 --scheduler-interval 0.2 >>"${daemon_log%.log}-jobs.log" 2>&1 &
  echo $!
}
victim_pid=$(jobs_daemon)
job_id=$(sql -c "SELECT pgtq.push('jobs', 'sleep', '[20]')")
for _ in $(seq 1 100); do
  [ "$(sql -c "SELECT state FROM pgtq.tasks WHERE id = $job_id")" = running ] && break
  sleep 0.05
done
survivor_pid=$(jobs_daemon)
sleep 1.5 # a sweep trusts what it sees once its session is a heartbeat old
killed_at=$(sql -c "SELECT clock_timestamp()")
kill -9 "$victim_pid"
for _ in $(seq 1 200); do
  [ "$(sql -c "SELECT claims FROM pgtq.live_tasks WHERE id = $job_id")" = 2 ] && break
  sleep 0.05
done
echo "task $job_id: $(sql -c "SELECT 'running again on ' || locked_by || ', ' || round(extract(epoch FROM started_at - '$killed_at'::timestamptz)::numeric, 1) || ' s after the kill (' || (errors->0->>'error') || ')' FROM pgtq.live_tasks WHERE id = $job_id")"
sql -c "SELECT pgtq.cancel($job_id)" >/dev/null # its handler is asked to stop
for _ in $(seq 1 100); do
  [ "$(sql -c "SELECT state FROM pgtq.tasks WHERE id = $job_id")" = cancelled ] && break
  sleep 0.05
done
kill -TERM "$survivor_pid"
while kill -0 "$survivor_pid" 2>/dev/null; do sleep 0.05; done

say "the web dashboard: pgtqctl web on a loopback port, read-only without credentials (README: Dashboard)"
web_log="$(mktemp /tmp/pgtq-web-demo.XXXXXX.log)"
"$build_dir/daemon/pgtqctl" --dsn "$dsn" web --listen 127.0.0.1:0 >"$web_log" 2>&1 &
web_pid=$!
for _ in $(seq 1 100); do
  grep -q "dashboard served at" "$web_log" && break
  sleep 0.05
done
web_url=$(grep -o 'http://[^ ]*' "$web_log" | head -n 1)
echo "$(head -n 1 "$web_log"); its queues page lists $(curl -fsS "$web_url" | grep -c '<tr data-queue=') queue(s)"
kill -TERM "$web_pid"
wait "$web_pid" || true
rm -f "$web_log"

say "stopping pgtqd"
stop_daemon
grep -E "loaded plugin|registered task|killed by|started again|stopped" "$daemon_log" |
  grep -v " worker [0-9]* plugin" | sed 's/^/  /' >&2
[ "$left" -eq 0 ] || { echo "some tasks did not finish; see $daemon_log" >&2; exit 1; }
