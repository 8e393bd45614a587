#pragma once

#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace pgtq::ctl {

// pgtqctl's subcommands. Each connects with dsn (empty: libpq's PG* variables), writes
// what it did to out, and returns the process exit code. Values are taken as text and
// checked by ctl/arguments.hpp before anything is sent: a bad one throws UsageError.
int migrate(const std::string& dsn, std::ostream& out);
int schema_version(const std::string& dsn, std::ostream& out);

struct PushOptions {
  std::string queue;
  std::string task;
  std::string args = "[]";
  std::optional<std::string> run_at;
  std::optional<std::string> delay;
  std::optional<std::string> priority;
  std::optional<std::string> max_attempts;
  std::optional<std::string> timeout; // an interval, e.g. '90 seconds'
  std::optional<std::string> unique_key;
  std::optional<std::string> fairness_key;
  std::vector<std::string> tags;                // repeatable --tag
  std::optional<std::string> metadata;          // a JSON object
  std::vector<std::string> unique_states;       // empty: the server's default
  std::optional<std::string> unique_period;     // an interval
  std::optional<std::string> on_conflict;       // ignore, replace or raise
  std::vector<std::string> depends_on;          // repeatable --depends-on: task ids
  std::optional<std::string> on_parent_failure; // cancel or run
};
int push(const std::string& dsn, const PushOptions& options, std::ostream& out);

// Commands with a json flag print, with it, one JSON array of objects (one per table row,
// members named after the columns) instead of the table: for scripts (jq).
int stats(const std::string& dsn,
          const std::optional<std::string>& queue,
          bool json,
          std::ostream& out);
// Every queue at a glance (pgtq.queue_stats).
int queues(const std::string& dsn, bool json, std::ostream& out);
// Which tasks list shows, newest first; unset: any.
struct ListFilter {
  std::optional<std::string> queue;
  std::optional<std::string> task;
  std::optional<std::string> state;
  std::optional<std::string> unique_key;
  std::optional<std::string> fairness_key;
  std::vector<std::string> tags;       // tasks with every one of these tags
  std::optional<std::string> metadata; // a JSON object the task's metadata contains
  // Times the server reads as timestamptz; after: at or after, before: strictly before.
  std::optional<std::string> created_after;
  std::optional<std::string> created_before;
  std::optional<std::string> finished_after; // finished tasks only
  std::optional<std::string> finished_before;
  std::string limit = "20";
  bool json = false;
};
int list(const std::string& dsn, const ListFilter& filter, std::ostream& out);
// Which tasks retry --all and cancel --all touch; unset: any.
struct BulkOptions {
  std::optional<std::string> queue;
  std::optional<std::string> task;
  std::optional<std::string> error_contains; // retry: a substring of the last error
  std::optional<std::string> after;          // retry: finished, cancel: created at or after
  std::optional<std::string> before;         // ... before
  std::vector<std::string> states;           // empty: the command's default
  std::optional<std::string> limit;          // tasks per call, 1..100000 (default 10000)
  bool dry_run = false;                      // count, change nothing
};
// Exactly one of id and all; filters only with all (else UsageError). Exit 1 when the one
// task named could not be retried or cancelled. --all calls the SQL function until a call
// changes fewer than --limit tasks (retry with the same --finished-before each time: the
// time of its first call unless given), so it ends with everything that matched done.
int retry(const std::string& dsn,
          const std::optional<std::string>& id,
          bool all,
          const BulkOptions& filter,
          std::ostream& out);
int cancel(const std::string& dsn,
           const std::optional<std::string>& id,
           bool all,
           const BulkOptions& filter,
           std::ostream& out);
// One task by id, or --all that match (states required; running tasks are never deleted).
int delete_task(const std::string& dsn,
                const std::optional<std::string>& id,
                bool all,
                const BulkOptions& filter,
                std::ostream& out);
// What update changes; unset: as it is.
struct UpdateOptions {
  std::optional<std::string> args;
  std::optional<std::string> priority;
  std::optional<std::string> run_at;
  std::optional<std::string> max_attempts;
  std::optional<std::string> timeout;
};
// At least one change (else UsageError). Exit 1 when the task is unknown.
int update(const std::string& dsn,
           const std::string& id,
           const UpdateOptions& changes,
           std::ostream& out);
// Pause or resume a queue; exit 0 either way (saying whether it changed).
int pause(const std::string& dsn, const std::string& queue, std::ostream& out);
int resume(const std::string& dsn, const std::string& queue, std::ostream& out);
// Lists the live workers (pgtq.live_workers), of one queue or all.
int workers(const std::string& dsn,
            const std::optional<std::string>& queue,
            bool json,
            std::ostream& out);
// A queue's settings to change; unset: unchanged. "none" removes a limit.
struct QueueOptions {
  std::string queue;
  std::optional<std::string> global_concurrency; // 1..100000 or none
  std::optional<std::string> rate_limit;         // 1..1000000 or none
  std::optional<std::string> rate_period;        // an interval, 1 second..1 day (default 1 s)
  std::optional<std::string> key_concurrency;    // 1..100000 or none
  std::vector<std::string> key_weights;          // KEY=WEIGHT (1..1000) or KEY=default
  std::optional<std::string> key_rate_limit;     // 1..1000000 or none
  std::optional<std::string> key_rate_period;    // an interval, 1 second..1 day (default 1 s)
  // What new tasks get when their push gives none: a value or none (the built-in default).
  std::optional<std::string> default_priority;     // -32768..32767
  std::optional<std::string> default_max_attempts; // 1..1000
  std::optional<std::string> default_timeout;      // an interval
  bool reset = false;                              // first: back to the defaults (pgtq.reset_queue)
};
// Shows a queue's settings and counts, after changing those given.
int queue(const std::string& dsn, const QueueOptions& options, std::ostream& out);

struct RetentionOptions {
  std::optional<std::string> queue; // unset: the default of queues without their own rule
  std::optional<std::string> state; // succeeded, failed or cancelled; unset: all three
  std::optional<std::string> keep;  // an interval, "forever" or "default"; unset: only show
};
// Shows the retention rules (those of options.queue and the default), after changing them
// when options.keep is set: an interval or "forever" sets the rule (pgtq.set_retention),
// "default" removes it (pgtq.reset_retention).
int retention(const std::string& dsn, const RetentionOptions& options, std::ostream& out);

int prune(const std::string& dsn, const std::string& older_than, std::ostream& out);

// Every schedule (pgtq.schedules): what it pushes, when, and when it fired last.
int schedules(const std::string& dsn, bool json, std::ostream& out);
// A schedule to show, create or change; unset: as it is (a new schedule needs queue, task
// and one of cron and every). Values are checked by pgtq.set_schedule, whose errors name them.
struct ScheduleOptions {
  std::string name;
  std::optional<std::string> queue;
  std::optional<std::string> task;
  std::optional<std::string> args;            // JSON array or object
  std::optional<std::string> cron;            // replaces every
  std::optional<std::string> every;           // an interval; replaces cron
  std::optional<std::string> time_zone;       // default UTC
  std::optional<std::string> catch_up;        // none, latest, all
  std::optional<std::string> catch_up_within; // an interval
  // A value, or none for the queue's default.
  std::optional<std::string> priority;
  std::optional<std::string> max_attempts;
  std::optional<std::string> timeout;
  bool pause = false; // at most one of these three, and none with a change above
  bool resume = false;
  bool remove = false;
  std::string count = "5"; // fire times shown, 1..1000
};
// Changes the schedule as asked, then shows it with its next count fire times. Exit 1 when
// the schedule does not exist (show, pause, resume, delete).
int schedule(const std::string& dsn, const ScheduleOptions& options, std::ostream& out);
// The next count fire times of a cron expression in time_zone: a preview before setting it.
int cron(const std::string& dsn,
         const std::string& expression,
         const std::string& time_zone,
         const std::string& count,
         std::ostream& out);

// Waits up to timeout_seconds (0..86400) for task id to end and prints its state, attempts,
// last error and result. Exit 0: it succeeded; 1: it failed, was cancelled, or no task has
// that id; 75 (EX_TEMPFAIL): still live when the timeout came.
int wait(const std::string& dsn,
         const std::string& id,
         const std::string& timeout_seconds,
         std::ostream& out);

// Everything about one task, live or finished: its definition, state, times, worker and lease
// while it runs, the error of every attempt, its parents and their states. Exit 1, with a
// line on standard error, when no task has that id (never pushed, deleted or pruned).
int show(const std::string& dsn, const std::string& id, bool json, std::ostream& out);

struct TopOptions {
  std::string interval = "2"; // seconds between frames, 0.1..3600
  bool once = false;          // one frame, then exit
};
// A live view of every queue and the live workers, drawn again every interval until Ctrl-C
// or q (on a terminal; elsewhere the frames follow each other).
int top(const std::string& dsn, const TopOptions& options, std::ostream& out);

struct WebOptions {
  std::string listen = "127.0.0.1:8080";
  std::optional<std::string> password_file; // else PGTQ_WEB_PASSWORD; neither: read-only
  std::string refresh = "10";               // seconds between reloads of the queues page
  std::string sample_interval = "5";        // seconds between samples of the queue depths
  std::vector<std::string> allowed_hosts;   // Host headers served besides the listen address
};
// Serves the dashboard (daemon/web/dashboard.hpp) at options.listen until SIGINT or SIGTERM,
// then exits 0. Without credentials it is read-only, and only on a loopback address: exit 78
// (EX_CONFIG) on another, or when the password file cannot be read.
int web(const std::string& dsn, const WebOptions& options, std::ostream& out);

} // namespace pgtq::ctl
