#include "db/queries.hpp"

namespace pgtq::db::queries {

// Session-level advisory lock held while migrating; its key is "pgtq" in ASCII.
const Query k_migration_lock{"pgtq_migration_lock", "SELECT pg_advisory_lock(1885828209)"};
const Query k_migration_unlock{"pgtq_migration_unlock", "SELECT pg_advisory_unlock(1885828209)"};
const Query k_create_schema{"pgtq_create_schema", "CREATE SCHEMA IF NOT EXISTS pgtq"};
const Query k_create_migrations_table{"pgtq_create_migrations_table",
                                      "CREATE TABLE IF NOT EXISTS pgtq.schema_migrations ("
                                      " version integer PRIMARY KEY,"
                                      " file_name text NOT NULL,"
                                      " applied_at timestamptz NOT NULL DEFAULT now())"};
const Query k_applied_versions{"pgtq_applied_versions",
                               "SELECT version FROM pgtq.schema_migrations ORDER BY version"};
const Query k_record_migration{
    "pgtq_record_migration",
    "INSERT INTO pgtq.schema_migrations (version, file_name) VALUES ($1::integer, $2)"};
const Query k_migrations_table_exists{"pgtq_migrations_table_exists",
                                      "SELECT to_regclass('pgtq.schema_migrations') IS NOT NULL"};
// What pgtqd checks of its role at start (db/privileges.cpp). Whether it may use the schema
// (true when there is none: the schema check says so then), and who it is.
const Query k_schema_usage{"pgtq_schema_usage",
                           "SELECT coalesce((SELECT has_schema_privilege(n.oid, 'USAGE')"
                           " FROM pg_namespace n WHERE n.nspname = 'pgtq'), true),"
                           " current_user::text"};
// The rights it lacks: SELECT on the tables $1 (some columns: pgtq_reader may not read the claim
// tokens), EXECUTE on every function named in $2.
const Query k_missing_worker_privileges{
    "pgtq_missing_worker_privileges",
    "SELECT 'SELECT on pgtq.' || c.relname FROM pg_class c"
    " WHERE c.relnamespace = (SELECT n.oid FROM pg_namespace n WHERE n.nspname = 'pgtq')"
    " AND c.relname = ANY ($1::text[]) AND NOT has_any_column_privilege(c.oid, 'SELECT')"
    " UNION ALL"
    " SELECT 'EXECUTE on ' || p.oid::regprocedure::text FROM pg_proc p"
    " WHERE p.pronamespace = (SELECT n.oid FROM pg_namespace n WHERE n.nspname = 'pgtq')"
    " AND p.proname = ANY ($2::text[]) AND NOT has_function_privilege(p.oid, 'EXECUTE')"
    " ORDER BY 1"};
// Whether the owner of pgtq.worker_seen (which runs as its owner) sees this session's start
// in pg_stat_activity, as PostgreSQL decides it: the privileges of the session's role or of
// pg_read_all_stats. And who the owner is.
const Query k_owner_sees_sessions{
    "pgtq_owner_sees_sessions",
    "SELECT pg_has_role(p.proowner, session_user, 'USAGE')"
    " OR pg_has_role(p.proowner, 'pg_read_all_stats', 'USAGE'), pg_get_userbyid(p.proowner)"
    " FROM pg_proc p"
    " WHERE p.pronamespace = (SELECT n.oid FROM pg_namespace n WHERE n.nspname = 'pgtq')"
    " AND p.proname = 'worker_seen' LIMIT 1"};
const Query k_begin{"pgtq_begin", "BEGIN"};
const Query k_commit{"pgtq_commit", "COMMIT"};
const Query k_rollback{"pgtq_rollback", "ROLLBACK"};

const Query k_claim{"pgtq_claim",
                    "SELECT id, claim, task, args, attempt, max_attempts,"
                    " extract(epoch FROM timeout)::float8, parents::text, checkpoint::text"
                    " FROM pgtq.claim($1, $2::text[], $3::integer, $4, $5::interval)"};
const Query k_finish_many{"pgtq_finish_many",
                          "SELECT id FROM pgtq.finish_many($1::bigint[], $2::bigint[], $3::text[],"
                          " $4::jsonb[], $5::text[], $6::float8[], $7::jsonb[], $8::jsonb[],"
                          " $9::jsonb[]) AS id"};
const Query k_report{"pgtq_report",
                     "SELECT pgtq.report($1::bigint[], $2::bigint[], $3::jsonb[], $4::jsonb[])"};
const Query k_heartbeat{
    "pgtq_heartbeat",
    "SELECT id, status FROM pgtq.heartbeat($1::bigint[], $2::bigint[], $3::interval)"};
const Query k_release{"pgtq_release", "SELECT pgtq.release($1::bigint[], $2::bigint[])"};
// Seconds until the next scheduled task is due (NULL when none is scheduled), clamped to
// -1 day .. 1 day: the scheduler wakes at least daily anyway, and no run_at (even one written
// straight into the table, 'infinity' included) can make the subtraction fail or the
// seconds overflow a nanosecond clock.
const Query k_tick{"pgtq_tick",
                   "SELECT promoted, rescued, failed,"
                   " CASE WHEN next_due IS NOT NULL THEN extract(epoch FROM"
                   " least(greatest(next_due, clock_timestamp() - interval '1 day'),"
                   " clock_timestamp() + interval '1 day') - clock_timestamp())::float8 END"
                   " FROM pgtq.tick($1::integer)"};
// pgtq.tick() when k_tick's due time cannot be computed (a task scheduled at 'infinity', or
// beyond what an interval holds): the same work, without the due time.
const Query k_tick_without_due{"pgtq_tick_without_due",
                               "SELECT promoted, rescued, failed, NULL::float8"
                               " FROM pgtq.tick($1::integer)"};

const Query k_apply_retention{"pgtq_apply_retention", "SELECT pgtq.apply_retention($1::integer)"};
// How many finished tasks are past their retention now.
const Query k_retention_due{"pgtq_retention_due", "SELECT pgtq.apply_retention(dry_run => true)"};

const Query k_worker_idle{"pgtq_worker_idle", "SELECT pgtq.worker_idle($1, $2)"};
const Query k_worker_busy{"pgtq_worker_busy", "SELECT pgtq.worker_busy($1)"};
const Query k_pushes_in_flight{"pgtq_pushes_in_flight",
                               "SELECT pgtq.pushes_in_flight($1, $2::text[])::text"};
const Query k_scheduler_waiting{
    "pgtq_scheduler_waiting",
    "SELECT pgtq.scheduler_waiting($1, make_interval(secs => $2::float8))"};
const Query k_delayed_pushes_in_flight{"pgtq_delayed_pushes_in_flight",
                                       "SELECT pgtq.delayed_pushes_in_flight($1::text[])::text"};
// As k_tick's due time: seconds until the next scheduled task is due, clamped to ±1 day.
const Query k_next_due{"pgtq_next_due",
                       "SELECT CASE WHEN d IS NOT NULL THEN extract(epoch FROM"
                       " least(greatest(d, clock_timestamp() - interval '1 day'),"
                       " clock_timestamp() + interval '1 day') - clock_timestamp())::float8 END"
                       // A rate limit's room counts as due too, as in pgtq.tick's next_due.
                       " FROM least(pgtq.next_due(), pgtq.next_rate_room()) AS d"};
const Query k_push{"pgtq_push",
                   "SELECT pgtq.push($1, $2, $3::jsonb, run_at => $4::timestamptz,"
                   " delay => $5::interval, priority => $6::integer,"
                   " max_attempts => $7::integer, timeout => $8::interval,"
                   " unique_key => $9::text, unique_states => $10::pgtq.task_state[],"
                   " unique_period => $11::interval, on_conflict => coalesce($12::text, 'ignore'),"
                   " fairness_key => $13::text, tags => $14::text[], metadata => $15::jsonb,"
                   " depends_on => $16::bigint[],"
                   " on_parent_failure => coalesce($17::text, 'cancel'))"};
const Query k_push_many{"pgtq_push_many", "SELECT id FROM pgtq.push_many($1, $2::jsonb) AS id"};
const Query k_cancel{"pgtq_cancel", "SELECT pgtq.cancel($1::bigint)"};
const Query k_retry{"pgtq_retry", "SELECT pgtq.retry($1::bigint)"};
const Query k_retry_all{
    "pgtq_retry_all",
    "SELECT pgtq.retry_all(queue => $1, task => $2, error_contains => $3,"
    " finished_after => $4::timestamptz, finished_before => $5::timestamptz,"
    " states => $6::pgtq.task_state[], max_count => $7::integer, dry_run => $8::boolean)"};
const Query k_cancel_all{
    "pgtq_cancel_all",
    "SELECT pgtq.cancel_all(queue => $1, task => $2, created_after => $3::timestamptz,"
    " created_before => $4::timestamptz, states => $5::pgtq.task_state[],"
    " max_count => $6::integer, dry_run => $7::boolean)"};
const Query k_delete{"pgtq_delete", "SELECT pgtq.delete($1::bigint)"};
const Query k_update{"pgtq_update",
                     "SELECT pgtq.update($1::bigint, args => $2::jsonb, priority => $3::integer,"
                     " run_at => $4::timestamptz, max_attempts => $5::integer,"
                     " timeout => $6::interval)"};
const Query k_pause{"pgtq_pause", "SELECT pgtq.pause($1)"};
const Query k_resume{"pgtq_resume", "SELECT pgtq.resume($1)"};
const Query k_reset_queue{"pgtq_reset_queue", "SELECT pgtq.reset_queue($1)"};
const Query k_set_global_concurrency{"pgtq_set_global_concurrency",
                                     "SELECT pgtq.set_global_concurrency($1, $2::integer)"};
const Query k_set_key_concurrency{"pgtq_set_key_concurrency",
                                  "SELECT pgtq.set_key_concurrency($1, $2::integer)"};
const Query k_set_key_weight{"pgtq_set_key_weight",
                             "SELECT pgtq.set_key_weight($1, $2, $3::integer)"};
// A queue's key weights as "a 3, b 2" (NULL: none).
const Query k_key_weights{"pgtq_key_weights",
                          "SELECT string_agg(w.fairness_key || ' ' || w.weight, ', '"
                          " ORDER BY w.fairness_key) FROM pgtq.fairness_weights w"
                          " WHERE w.queue = $1"};
// The queue's settings row, created if missing, locked until the transaction ends.
const Query k_lock_queue_settings{
    "pgtq_lock_queue_settings",
    "WITH created AS (INSERT INTO pgtq.queues (queue) VALUES ($1) ON CONFLICT DO NOTHING)"
    " SELECT 1 FROM pgtq.queues q WHERE q.queue = $1 FOR UPDATE"};
// $2, $3, $4: a value, 'none' (no default), or NULL (keep the queue's).
const Query k_set_task_defaults{
    "pgtq_set_task_defaults",
    "SELECT pgtq.set_task_defaults($1,"
    " CASE WHEN $2::text IS NULL THEN q.default_priority WHEN $2 <> 'none' THEN $2::integer END,"
    " CASE WHEN $3::text IS NULL THEN q.default_max_attempts WHEN $3 <> 'none'"
    "   THEN $3::integer END,"
    " CASE WHEN $4::text IS NULL THEN q.default_timeout WHEN $4 <> 'none' THEN $4::interval END)"
    " FROM (SELECT 1) AS one LEFT JOIN pgtq.queues q ON q.queue = $1"};
// $3 NULL: the queue's period, else 1 second.
const Query k_set_rate_limit{
    "pgtq_set_rate_limit",
    "SELECT pgtq.set_rate_limit($1, $2::integer, coalesce($3::interval, (SELECT q.rate_period"
    " FROM pgtq.queues q WHERE q.queue = $1), interval '1 second'))"};
const Query k_set_key_rate_limit{
    "pgtq_set_key_rate_limit",
    "SELECT pgtq.set_key_rate_limit($1, $2::integer, coalesce($3::interval, (SELECT"
    " q.key_rate_period FROM pgtq.queues q WHERE q.queue = $1), interval '1 second'))"};
const Query k_queue_settings{
    "pgtq_queue_settings",
    "SELECT coalesce(q.paused, false), q.global_concurrency,"
    " (SELECT count(*) FROM pgtq.live_tasks l WHERE l.queue = $1 AND l.state = 'running'),"
    // One count per claim index (sql/schema/01_tables.sql): tasks without and with a key.
    " (SELECT count(*) FROM pgtq.live_tasks l WHERE l.queue = $1 AND l.state = 'queued'"
    "   AND l.fairness_key IS NULL)"
    " + (SELECT count(*) FROM pgtq.live_tasks l WHERE l.queue = $1 AND l.state = 'queued'"
    "   AND l.fairness_key IS NOT NULL),"
    " q.rate_limit, q.rate_period::text,"
    " (SELECT coalesce(sum(s.n), 0) FROM unnest(q.rate_starts, q.rate_counts) AS s(at, n)"
    "   WHERE s.at > clock_timestamp() - q.rate_period),"
    " q.key_concurrency, q.default_priority, q.default_max_attempts, q.default_timeout::text,"
    " q.key_rate_limit, q.key_rate_period::text"
    " FROM (SELECT 1) AS one LEFT JOIN pgtq.queues q ON q.queue = $1"};
const Query k_set_retention{"pgtq_set_retention",
                            "SELECT pgtq.set_retention($1, $2, $3::interval)"};
const Query k_reset_retention{"pgtq_reset_retention", "SELECT pgtq.reset_retention($1, $2)"};
// The rules, a queue's own before the default's, in state order; the keep NULL means forever.
// Whether text is a retention keep pgtq.set_retention accepts (0 to 100 years, no part
// negative).
const Query k_keep_ok{"pgtq_keep_ok", "SELECT pgtq.keep_ok($1::interval)"};
const Query k_retention_rules{
    "pgtq_retention_rules",
    "SELECT coalesce(r.queue, '(default)'), r.state::text, coalesce(r.keep::text, 'forever'),"
    " date_trunc('second', r.changed_at)::text"
    " FROM pgtq.retention r WHERE $1::text IS NULL OR r.queue = $1 OR r.queue IS NULL"
    " ORDER BY r.queue NULLS LAST, r.state"};
// Periodic tasks (sql/schema/18_schedules.sql), for pgtqctl.
const Query k_schedules{
    "pgtq_schedules",
    "SELECT s.name, s.queue, s.task,"
    " coalesce('cron ' || s.cron || ' in ' || s.time_zone, 'every ' || s.every::text),"
    " s.catch_up || CASE WHEN s.catch_up = 'none' THEN '' ELSE ' within ' || s.catch_up_within END,"
    " CASE WHEN s.enabled THEN 'enabled' ELSE 'paused' END, coalesce(s.next_fire_at::text, ''),"
    " coalesce(s.last_fire_at::text, ''), coalesce(s.last_task_id::text, ''),"
    " coalesce(left(s.last_error, 200), '')"
    " FROM pgtq.schedules s ORDER BY s.name"};
// A schedule's definition and state; no row when there is none. k_schedule_for_update
// locks it until the transaction ends.
#define PGTQ_SCHEDULE_ROW                                                                          \
  "SELECT s.queue, s.task, s.args::text, s.cron, s.every::text, s.time_zone, s.catch_up,"          \
  " s.catch_up_within::text, s.priority::text, s.max_attempts::text, s.timeout::text,"             \
  " s.enabled, s.next_fire_at::text, s.last_fire_at::text, s.last_task_id::text, s.last_error"     \
  " FROM pgtq.schedules s WHERE s.name = $1"
const Query k_schedule{"pgtq_schedule", PGTQ_SCHEDULE_ROW};
const Query k_schedule_for_update{"pgtq_schedule_for_update", PGTQ_SCHEDULE_ROW " FOR UPDATE"};
#undef PGTQ_SCHEDULE_ROW
const Query k_set_schedule{
    "pgtq_set_schedule",
    "SELECT pgtq.set_schedule($1, $2, $3, $4::jsonb, $5, $6::interval, $7, $8, $9::interval,"
    " $10::integer, $11::integer, $12::interval, $13::boolean)"};
const Query k_pause_schedule{"pgtq_pause_schedule", "SELECT pgtq.pause_schedule($1)"};
const Query k_resume_schedule{"pgtq_resume_schedule", "SELECT pgtq.resume_schedule($1)::text"};
const Query k_delete_schedule{"pgtq_delete_schedule", "SELECT pgtq.delete_schedule($1)"};
const Query k_schedule_fire_times{
    "pgtq_schedule_fire_times",
    "SELECT t::text FROM pgtq.schedule_fire_times($1, $2::integer) AS t"};
const Query k_cron_fire_times{"pgtq_cron_fire_times",
                              "SELECT t::text FROM pgtq.cron_fire_times($1, $2, $3::integer) AS t"};
// A plugin's default schedule (pgtqd at start and reload).
const Query k_register_schedule{
    "pgtq_register_schedule",
    "SELECT pgtq.register_schedule($1, $2, $3, $4::jsonb, $5, $6::interval, $7, $8)"};
const Query k_task_state{"pgtq_task_state",
                         "SELECT state::text FROM pgtq.tasks WHERE id = $1::bigint"};
const Query k_worker_seen{
    "pgtq_worker_seen",
    "SELECT pgtq.worker_seen($1, $2, $3, $4::integer, $5, $6::integer, $7, $8::interval,"
    " $9::timestamptz, $10::text[], $11::interval)"};
// Leaner than pgtq.queue_stats: no pass over the last hour of the history (the daemons'
// counters give the rates), so that every pgtqd may run it every few seconds.
const Query k_metrics_queue_figures{
    "pgtq_metrics_queue_figures",
    "WITH live AS ("
    "  SELECT l.queue,"
    "         count(*) FILTER (WHERE l.state = 'queued') AS queued,"
    "         count(*) FILTER (WHERE l.state = 'scheduled') AS scheduled,"
    "         count(*) FILTER (WHERE l.state = 'running') AS running,"
    "         count(*) FILTER (WHERE l.state = 'pending') AS pending,"
    "         min(l.run_at) FILTER (WHERE l.state = 'queued') AS oldest_queued_at"
    "    FROM pgtq.live_tasks l GROUP BY l.queue"
    "), workers AS ("
    "  SELECT w.queue, count(*) AS workers, sum(w.concurrency) AS slots"
    "    FROM pgtq.live_workers w GROUP BY w.queue"
    "), names AS ("
    "  SELECT live.queue FROM live UNION SELECT workers.queue FROM workers"
    "  UNION SELECT q.queue FROM pgtq.queues q"
    ")"
    " SELECT n.queue, coalesce(live.queued, 0), coalesce(live.scheduled, 0),"
    "        coalesce(live.running, 0), coalesce(live.pending, 0),"
    "        coalesce(extract(epoch FROM greatest(now() - live.oldest_queued_at,"
    "                                            interval '0'))::float8, 0),"
    "        coalesce(workers.workers, 0), coalesce(workers.slots, 0),"
    "        coalesce(q.paused, false)"
    "   FROM names n"
    "   LEFT JOIN live ON live.queue = n.queue"
    "   LEFT JOIN workers ON workers.queue = n.queue"
    "   LEFT JOIN pgtq.queues q ON q.queue = n.queue"
    "  ORDER BY n.queue"};
const Query k_metrics_local_timeouts{
    "pgtq_metrics_local_timeouts",
    "SELECT set_config('statement_timeout', '5s', true), set_config('lock_timeout', '1s', true)"};
const Query k_sweep_gone_workers{"pgtq_sweep_gone_workers", "SELECT pgtq.sweep_gone_workers()"};
const Query k_worker_stopped{"pgtq_worker_stopped", "SELECT pgtq.worker_stopped($1, $2)"};
const Query k_live_workers{
    "pgtq_live_workers",
    "SELECT worker, queue, host, pid, version, concurrency, isolation, running,"
    " round(extract(epoch FROM clock_timestamp() - last_seen)::numeric, 1)::text,"
    " date_trunc('second', started_at)::text"
    " FROM pgtq.live_workers WHERE $1::text IS NULL OR queue = $1 ORDER BY queue, worker"};
const Query k_now{"pgtq_now", "SELECT now()::text"};
// A cutoff fixed once: the time text names, read now, and no later than now.
const Query k_cutoff{"pgtq_cutoff", "SELECT least($1::timestamptz, now())::text"};
// Whether text is a timestamptz this server reads (NULL: it is not).
const Query k_timestamp_ok{"pgtq_timestamp_ok", "SELECT $1::timestamptz IS NOT NULL"};
const Query k_prune{"pgtq_prune", "SELECT pgtq.prune(clock_timestamp() - $1::interval)"};
// Whether an --older-than age is a positive interval of at most 1000 years (NULL: not one).
const Query k_prune_age_ok{"pgtq_prune_age_ok",
                           "SELECT extract(year FROM $1::interval) BETWEEN -2000 AND 2000"
                           " AND extract(day FROM $1::interval) BETWEEN -1000000 AND 1000000"
                           " AND extract(epoch FROM $1::interval) BETWEEN -1e11 AND 1e11"
                           " AND now() - $1::interval < now()"
                           " AND now() - $1::interval >= now() - interval '1000 years'"};
const Query k_delete_all{
    "pgtq_delete_all",
    "SELECT pgtq.delete_all(states => $1::pgtq.task_state[], queue => $2, task => $3,"
    " created_after => $4::timestamptz, created_before => $5::timestamptz,"
    " max_count => $6::integer, dry_run => $7::boolean)"};
const Query k_queues_overview{
    "pgtq_queues_overview",
    "SELECT queue, queued, scheduled, running,"
    " coalesce(round(extract(epoch FROM oldest_queued_age)::numeric, 1)::text, ''),"
    " succeeded_last_hour, failed_last_hour,"
    " coalesce(round(extract(epoch FROM wait_p95_last_hour)::numeric, 3)::text, ''),"
    " coalesce(round(extract(epoch FROM run_p95_last_hour)::numeric, 3)::text, ''), workers,"
    " CASE WHEN paused THEN 'yes' ELSE '' END"
    " FROM pgtq.queue_stats ORDER BY queue"};
const Query k_unhandled_tasks{
    "pgtq_unhandled_tasks",
    "SELECT queue, task, queued, date_trunc('second', oldest_run_at)::text, queue_has_workers"
    " FROM pgtq.unhandled_tasks WHERE $1::text IS NULL OR queue = $1 ORDER BY queue, task"
    " LIMIT 101"};
const Query k_queue_stats{
    "pgtq_queue_stats",
    "SELECT queue, state::text, count(*) FROM pgtq.tasks"
    " WHERE $1::text IS NULL OR queue = $1 GROUP BY queue, state ORDER BY queue, state"};

// pgtqctl show, list and top.
// Times as ISO 8601 text (to_json's), the same whatever the session's DateStyle: show and
// list print them, and their --json hands them on. JSON columns come as their text, NULL
// when absent, so that --json embeds them as they are.
const Query k_ctl_show_task{
    "pgtq_ctl_show_task",
    "SELECT t.id, t.queue, t.task, t.state::text, t.args::text, t.result::text, t.last_error,"
    " t.errors::text, t.attempts, t.max_attempts, t.priority, to_json(t.run_at) #>> '{}',"
    " to_json(t.created_at) #>> '{}', to_json(t.started_at) #>> '{}',"
    " to_json(t.finished_at) #>> '{}', t.locked_by, to_json(t.locked_until) #>> '{}',"
    " t.timeout::text, t.unique_key, t.fairness_key, to_jsonb(t.tags)::text, t.metadata::text,"
    " to_jsonb(t.depends_on)::text, t.on_parent_failure, t.progress::text,"
    " t.checkpoint IS NOT NULL,"
    " CASE WHEN t.depends_on IS NOT NULL THEN pgtq.task_parents(t.id)::text END"
    " FROM pgtq.tasks t WHERE t.id = $1::bigint LIMIT 1"};
const Query k_ctl_list_tasks{
    "pgtq_ctl_list_tasks",
    "SELECT id, queue, task, state::text, attempts, max_attempts, priority, unique_key,"
    " fairness_key, array_to_string(tags, ','), to_jsonb(tags)::text,"
    " array_to_string(depends_on, ','), to_jsonb(depends_on)::text, progress::text, args::text,"
    " result::text, last_error, metadata::text, to_json(run_at) #>> '{}',"
    " to_json(created_at) #>> '{}', to_json(started_at) #>> '{}',"
    " to_json(finished_at) #>> '{}', locked_by"
    " FROM pgtq.tasks"
    " WHERE ($1::text IS NULL OR queue = $1) AND ($2::text IS NULL OR state::text = $2)"
    " AND ($4::text IS NULL OR unique_key = $4) AND ($5::text IS NULL OR fairness_key = $5)"
    " AND ($6::text[] IS NULL OR tags @> $6::text[])"
    " AND ($7::jsonb IS NULL OR metadata @> $7::jsonb)"
    " AND ($8::text IS NULL OR task = $8)"
    " AND ($9::timestamptz IS NULL OR created_at >= $9::timestamptz)"
    " AND ($10::timestamptz IS NULL OR created_at < $10::timestamptz)"
    " AND ($11::timestamptz IS NULL OR finished_at >= $11::timestamptz)"
    " AND ($12::timestamptz IS NULL OR finished_at < $12::timestamptz)"
    " ORDER BY id DESC LIMIT $3::integer"};
const Query k_ctl_top_queues{
    "pgtq_ctl_top_queues",
    "SELECT queue, queued, scheduled, running, pending,"
    " round(extract(epoch FROM oldest_queued_age)::numeric, 1)::text, succeeded_last_hour,"
    " failed_last_hour, workers, worker_slots, CASE WHEN paused THEN 'yes' ELSE '' END"
    " FROM pgtq.queue_stats ORDER BY queue"};
const Query k_ctl_top_time{"pgtq_ctl_top_time",
                           "SELECT date_trunc('second', clock_timestamp())::text"};

// ---- pgtqctl web (daemon/web/): statements the role pgtq_operator may run ----
// Times as ISO 8601 text cut to the second; ages and latencies as seconds with a decimal.
const Query k_web_queues{
    "pgtq_web_queues",
    "SELECT queue, queued, scheduled, running, pending,"
    " coalesce(round(extract(epoch FROM oldest_queued_age)::numeric, 1)::text, ''),"
    " succeeded_last_hour, failed_last_hour, cancelled_last_hour, workers, worker_slots, paused,"
    " coalesce(round(extract(epoch FROM wait_p95_last_hour)::numeric, 3)::text, ''),"
    " coalesce(round(extract(epoch FROM run_p95_last_hour)::numeric, 3)::text, '')"
    " FROM pgtq.queue_stats ORDER BY queue"};
const Query k_web_queue_minutes{
    "pgtq_web_queue_minutes",
    "SELECT queue, extract(epoch FROM minute)::bigint, succeeded, failed, cancelled,"
    " coalesce(extract(epoch FROM run_p95)::float8, 0)"
    " FROM pgtq.queue_minutes ORDER BY queue, minute"};
const Query k_web_depth_sample{"pgtq_web_depth_sample",
                               "SELECT queue, queued, scheduled, running FROM pgtq.queue_stats"};
const Query k_web_tasks{
    "pgtq_web_tasks",
    "SELECT id, queue, task, state::text, attempts, max_attempts,"
    " to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS'),"
    " coalesce(to_char(finished_at AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS'), ''),"
    " coalesce(left(last_error, 200), ''), coalesce(array_to_string(tags, ', '), '')"
    " FROM pgtq.tasks"
    " WHERE ($1::bigint IS NULL OR id < $1::bigint)"
    " AND ($2::text IS NULL OR queue = $2) AND ($3::text IS NULL OR state::text = $3)"
    " AND ($4::text IS NULL OR task = $4) AND ($5::text IS NULL OR unique_key = $5)"
    " AND ($6::text IS NULL OR tags @> ARRAY[$6::text])"
    " AND ($7::timestamptz IS NULL OR created_at >= $7::timestamptz)"
    " AND ($8::timestamptz IS NULL OR created_at < $8::timestamptz)"
    " AND ($9::timestamptz IS NULL OR finished_at >= $9::timestamptz)"
    " AND ($10::timestamptz IS NULL OR finished_at < $10::timestamptz)"
    " AND ($11::text IS NULL OR last_error = $11)"
    " ORDER BY id DESC LIMIT $12::integer"};
const Query k_web_task_errors{
    "pgtq_web_task_errors",
    "SELECT coalesce(e->>'attempt', ''), coalesce(e->>'at', ''),"
    " coalesce(e->>'error', e::text)"
    " FROM pgtq.tasks t, jsonb_array_elements(t.errors) WITH ORDINALITY AS a(e, n)"
    " WHERE t.id = $1::bigint ORDER BY a.n"};
const Query k_web_task_parents{
    "pgtq_web_task_parents",
    "SELECT p->>'id', coalesce(p->>'task', ''), coalesce(p->>'state', '')"
    " FROM jsonb_array_elements(coalesce(pgtq.task_parents($1::bigint), '[]')) AS p"};
const Query k_web_failure_groups{
    "pgtq_web_failure_groups",
    "SELECT queue, task, coalesce(last_error, ''), count(*),"
    " to_char(max(finished_at) AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS'), max(id)"
    " FROM pgtq.finished_tasks WHERE state = 'failed'"
    " GROUP BY queue, task, last_error ORDER BY count(*) DESC, max(id) DESC LIMIT 200"};
const Query k_web_retry_group{
    "pgtq_web_retry_group",
    "WITH g AS (SELECT queue, task, last_error FROM pgtq.tasks WHERE id = $1::bigint)"
    " SELECT count(*) FILTER (WHERE pgtq.retry(t.id)) FROM"
    " (SELECT t.id FROM pgtq.tasks t, g WHERE t.state = 'failed' AND t.queue = g.queue"
    " AND t.task = g.task AND t.last_error IS NOT DISTINCT FROM g.last_error"
    " ORDER BY t.id LIMIT 10000) t"};

} // namespace pgtq::db::queries
