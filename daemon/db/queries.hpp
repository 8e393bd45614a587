#pragma once

namespace pgtq::db {

// A named SQL statement; prepared once per connection under its name.
struct Query {
  const char* name;
  const char* sql;
};

// Every SQL statement pgtq runs, apart from the migration files themselves.
namespace queries {

// Migrations.
extern const Query k_migration_lock;
extern const Query k_migration_unlock;
extern const Query k_create_schema;
extern const Query k_create_migrations_table;
extern const Query k_applied_versions;
extern const Query k_record_migration;
extern const Query k_migrations_table_exists;
// The role's rights (db/privileges.cpp).
extern const Query k_schema_usage;
extern const Query k_missing_worker_privileges;
extern const Query k_owner_sees_sessions;
extern const Query k_begin;
extern const Query k_commit;
extern const Query k_rollback;

// Worker protocol (sql/schema/04_claim.sql to 07_admin.sql).
extern const Query k_claim;
extern const Query k_finish_many;
extern const Query k_report; // sql/schema/21_progress.sql
extern const Query k_heartbeat;
extern const Query k_release;
extern const Query k_tick;
extern const Query k_tick_without_due;
extern const Query k_apply_retention;
extern const Query k_retention_due;
// Wake-ups (sql/schema/09_wake_ups.sql).
extern const Query k_worker_idle;
extern const Query k_worker_busy;
extern const Query k_pushes_in_flight;
extern const Query k_scheduler_waiting;
extern const Query k_delayed_pushes_in_flight;
extern const Query k_next_due;

// Producers and operators.
extern const Query k_push;
extern const Query k_push_many;
extern const Query k_cancel;
extern const Query k_retry;
extern const Query k_retry_all;
extern const Query k_cancel_all;
extern const Query k_delete;
extern const Query k_update;
extern const Query k_pause;
extern const Query k_resume;
extern const Query k_reset_queue;
extern const Query k_set_global_concurrency;
extern const Query k_set_key_concurrency;
extern const Query k_set_key_weight;
extern const Query k_key_weights;
extern const Query k_set_task_defaults;
extern const Query k_lock_queue_settings;
extern const Query k_set_rate_limit;
extern const Query k_set_key_rate_limit;
extern const Query k_queue_settings;
extern const Query k_set_retention;
extern const Query k_reset_retention;
extern const Query k_retention_rules;
extern const Query k_keep_ok;
extern const Query k_schedules;
extern const Query k_schedule;
extern const Query k_schedule_for_update;
extern const Query k_set_schedule;
extern const Query k_pause_schedule;
extern const Query k_resume_schedule;
extern const Query k_delete_schedule;
extern const Query k_schedule_fire_times;
extern const Query k_cron_fire_times;
extern const Query k_register_schedule;
extern const Query k_timestamp_ok;
extern const Query k_task_state;
extern const Query k_worker_seen;
extern const Query k_sweep_gone_workers;
extern const Query k_worker_stopped;
extern const Query k_live_workers;
// /metrics: per queue, the live tasks by state, the oldest queued task's age in seconds, live
// workers and their slots, paused (metrics/queue_figures.hpp).
extern const Query k_metrics_queue_figures;
// Its timeouts, for the transaction it runs in (set_config local: they hold behind a pooler).
extern const Query k_metrics_local_timeouts;
extern const Query k_now;
extern const Query k_cutoff;
extern const Query k_prune;
extern const Query k_prune_age_ok;
extern const Query k_delete_all;
extern const Query k_queues_overview;
extern const Query k_queue_stats;
extern const Query k_unhandled_tasks;

// pgtqctl show, list and top.
// Everything about one task, live or finished (pgtq.tasks): no row for an unknown id.
// Columns: ctl/show_command.cpp's ShowField.
extern const Query k_ctl_show_task;
// The newest tasks that match every filter given (NULL: any). Columns: ctl/list_command.cpp.
extern const Query k_ctl_list_tasks;
// Per queue (pgtq.queue_stats) what pgtqctl top shows, and the time of its frame.
extern const Query k_ctl_top_queues;
extern const Query k_ctl_top_time;

// pgtqctl web (daemon/web/). Reads are SELECTs of pgtq's views and tables, changes go
// through pgtq.retry, cancel, delete, pause and resume only: all that the role
// pgtq_operator may run (no table writes, no FOR UPDATE). It also reuses k_ctl_show_task,
// k_live_workers, k_schedules and those functions' queries above.
// Per queue (pgtq.queue_stats): queued, scheduled, running, pending, oldest queued age (s),
// succeeded, failed and cancelled in the last hour, workers, slots, paused, wait and run p95.
extern const Query k_web_queues;
// Per queue and minute of the last hour (pgtq.queue_minutes): epoch seconds, succeeded,
// failed, cancelled, run p95 (s).
extern const Query k_web_queue_minutes;
// Per queue, the depth sampled into the dashboard's memory: queued, scheduled, running.
extern const Query k_web_depth_sample;
// A page of tasks, newest first, below an id ($1): filters as k_ctl_list_tasks's.
extern const Query k_web_tasks;
// The error of each attempt of a task (its errors array), oldest first.
extern const Query k_web_task_errors;
// A task's parents (pgtq.task_parents): id, task, state.
extern const Query k_web_task_parents;
// Failed tasks grouped by queue, task name and last error: count, latest end, newest id.
extern const Query k_web_failure_groups;
// "retry all" of a failure group: pgtq.retry of each failed task (at most 10000) with the
// same queue, task name and last error (NULL equal to NULL) as task $1. Column: how many.
extern const Query k_web_retry_group;

} // namespace queries
} // namespace pgtq::db
