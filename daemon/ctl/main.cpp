// pgtqctl: the operator's command line for pgtq (migrate, push, inspect, retry, cancel, delete,
// update, pause, resume, queue settings, retention, prune, schedules, wait, top, web).
#include "ctl/arguments.hpp"
#include "ctl/commands.hpp"
#include "ctl/error_report.hpp"
#include "ctl/web_subcommand.hpp"
#include "db/migrations.hpp"
#include "db/migrator.hpp"
#include "db/pg_error.hpp"

#include <build_config.hpp>

// GCC 12 reports a null dereference inside libstdc++'s vector relocation as inlined into
// CLI11's split() once string options take positional values; the path does not exist.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <CLI/CLI.hpp>
#pragma GCC diagnostic pop

#include <cstdlib>
#include <iostream>
#include <optional>

int main(int argc, char** argv) {
  CLI::App app{"pgtqctl: manage pgtq queues in PostgreSQL"};
  app.require_subcommand(1);
  const std::vector<pgtq::db::Migration>& migrations = pgtq::db::embedded_migrations();
  app.set_version_flag("--version",
                       std::string("pgtqctl ") + pgtq::build::k_version + " (pgtq schema version " +
                           std::to_string(migrations.empty() ? 0 : migrations.back().version) +
                           ")");
  app.footer("Exit status: 0 done; 1 the database refused the command, or the task or schedule "
             "named does not exist, or was not changed (pgtqctl says why); 64 a bad argument; "
             "75 wait timed out with the task still live; 78 migrate found a pgtq schema newer "
             "than this pgtqctl, or web cannot serve as asked (no credentials for a "
             "non-loopback address, a password file it cannot read, an address it cannot "
             "listen on).\nErrors are one line, \"pgtqctl: MESSAGE (SQLSTATE "
             "XXXXX)\", "
             "followed by the server's DETAIL and HINT lines when it sent them.");
  app.fallthrough(); // --dsn before or after the subcommand: pgtqctl migrate --dsn DSN
  std::string dsn;
  app.add_option(
         "--dsn", dsn, "libpq conninfo string or postgresql:// URI (default: PG* environment)")
      ->envname("PGTQ_DSN");

  int exit_code = 0;
  auto* migrate = app.add_subcommand("migrate", "create or upgrade the pgtq schema");
  migrate->callback([&] { exit_code = pgtq::ctl::migrate(dsn, std::cout); });

  auto* version =
      app.add_subcommand("schema-version", "show the schema version (exit 1: not current)");
  version->callback([&] { exit_code = pgtq::ctl::schema_version(dsn, std::cout); });

  pgtq::ctl::PushOptions push_options;
  auto* push = app.add_subcommand("push", "push one task; prints its id");
  push->add_option("queue", push_options.queue, "queue name")->required();
  push->add_option("task", push_options.task, "task name")->required();
  push->add_option("args", push_options.args, "JSON array or object (default [])");
  push->add_option("--run-at", push_options.run_at, "timestamp to run at");
  push->add_option("--delay", push_options.delay, "run after this interval, e.g. '5 minutes'");
  push->add_option("--priority",
                   push_options.priority,
                   "smaller runs first (default: the queue's default priority, else 0)");
  push->add_option("--max-attempts",
                   push_options.max_attempts,
                   "attempts before failing (default: the queue's default, else 5)");
  push->add_option("--timeout",
                   push_options.timeout,
                   "how long each attempt may run, a PostgreSQL interval such as '90 seconds' "
                   "(more than 0, at most 365 days, no months or years; default: the queue's "
                   "default timeout, else the plugin's timeout for the task name, else pgtqd's "
                   "task-timeout)");
  push->add_option("--unique-key",
                   push_options.unique_key,
                   "no other task of the queue with this key may be live (1..1024 bytes); a "
                   "push while one is prints that task's id");
  push->add_option("--unique-state",
                   push_options.unique_states,
                   "with --unique-key: a state whose tasks hold the key, repeatable; must "
                   "include queued, scheduled and running (default: those, plus succeeded "
                   "with --unique-period)");
  push->add_option("--unique-period",
                   push_options.unique_period,
                   "with --unique-key: a finished task holds the key for this long after it "
                   "ended, e.g. '1 hour'");
  push->add_option("--on-conflict",
                   push_options.on_conflict,
                   "with --unique-key, when the key is held: ignore (print the holder's id, "
                   "the default), replace (a waiting holder takes these args and options), "
                   "raise (fail)");
  push->add_option("--fairness-key",
                   push_options.fairness_key,
                   "the tenant or customer the task belongs to (1..1024 bytes): claims of the "
                   "queue take turns between keys");
  push->add_option("--tag",
                   push_options.tags,
                   "a label to find the task by, repeatable (at most 32, each 1..128 characters)");
  push->add_option("--metadata",
                   push_options.metadata,
                   "a JSON object about the task, kept with it and not passed to its handler "
                   "(at most 64 KiB)");
  push->add_option("--depends-on",
                   push_options.depends_on,
                   "the id of a task this one waits for, repeatable: it stays pending until they "
                   "have all ended");
  push->add_option("--on-parent-failure",
                   push_options.on_parent_failure,
                   "with --depends-on, when one of them fails for good, is cancelled or deleted: "
                   "cancel (the default) or run (once they have all ended)");
  push->callback([&] { exit_code = pgtq::ctl::push(dsn, push_options, std::cout); });

  // --json: one JSON array of objects instead of the table (stats, queues, list, workers,
  // schedules) or one JSON object (show).
  bool json = false;
  const auto add_json = [&json](CLI::App* command, const char* what) {
    command->add_flag("--json", json, what);
  };
  const char* json_rows = "print a JSON array of objects instead of the table";

  std::optional<std::string> queue;
  auto* stats = app.add_subcommand("stats", "count tasks per queue and state");
  stats->add_option("--queue", queue, "only this queue");
  add_json(stats, json_rows);
  stats->callback([&] { exit_code = pgtq::ctl::stats(dsn, queue, json, std::cout); });

  std::optional<std::string> state;
  auto* queues = app.add_subcommand(
      "queues",
      "every queue at a glance: depth, oldest queued task, the last hour's ends and 95th "
      "percentiles of wait and run time, workers");
  add_json(queues, json_rows);
  queues->callback([&] { exit_code = pgtq::ctl::queues(dsn, json, std::cout); });

  pgtq::ctl::ListFilter list_filter;
  auto* list = app.add_subcommand("list", "show the newest tasks that match every filter given");
  list->add_option("--queue", queue, "only this queue");
  list->add_option("--task", list_filter.task, "only this task name");
  list->add_option("--state",
                   state,
                   "only this state (pending, queued, scheduled, running, succeeded, failed, "
                   "cancelled)");
  list->add_option("--unique-key", list_filter.unique_key, "only tasks with this unique key");
  list->add_option("--fairness-key", list_filter.fairness_key, "only tasks with this fairness key");
  list->add_option("--tag", list_filter.tags, "only tasks with this tag (repeatable: all of them)");
  list->add_option(
      "--metadata",
      list_filter.metadata,
      "only tasks whose metadata contains this JSON object, e.g. '{\"customer\": 42}'");
  list->add_option(
      "--created-after", list_filter.created_after, "only tasks pushed at or after this time");
  list->add_option(
      "--created-before", list_filter.created_before, "only tasks pushed before this time");
  list->add_option("--finished-after",
                   list_filter.finished_after,
                   "only tasks that ended at or after this time");
  list->add_option(
      "--finished-before", list_filter.finished_before, "only tasks that ended before this time");
  list->add_option("--limit", list_filter.limit, "at most this many (default 20)");
  add_json(list, "print a JSON array of task objects (with times, metadata, worker)");
  list->callback([&] {
    list_filter.queue = queue;
    list_filter.state = state;
    list_filter.json = json;
    exit_code = pgtq::ctl::list(dsn, list_filter, std::cout);
  });

  // Ids as text: CLI11 would clamp 9223372036854775808 to the largest id.
  std::optional<std::string> target_id;
  bool all = false;
  pgtq::ctl::BulkOptions filter;
  const auto add_bulk_options = [&](CLI::App* command, const char* what, const char* states) {
    command->add_option("id", target_id, "task id");
    command->add_flag("--all", all, std::string("every task that matches the filters, ") + what);
    command->add_option("--queue", filter.queue, "only this queue");
    command->add_option("--task", filter.task, "only this task name");
    command->add_option("--state", filter.states, std::string("only these states: ") + states);
    command->add_option(
        "--limit", filter.limit, "tasks per database call, 1 to 100000 (default 10000)");
    command->add_flag("--dry-run", filter.dry_run, "print how many would change, change nothing");
  };
  auto* retry = app.add_subcommand(
      "retry", "queue a failed or cancelled task again (or --all that match), keeping its errors");
  add_bulk_options(retry, "oldest first", "failed, cancelled (default failed)");
  retry->add_option("--error", filter.error_contains, "only tasks whose last error contains this");
  retry->add_option("--finished-after", filter.after, "only tasks finished at or after this time");
  retry->add_option("--finished-before", filter.before, "only tasks finished before this time");
  retry->callback([&] { exit_code = pgtq::ctl::retry(dsn, target_id, all, filter, std::cout); });

  auto* cancel = app.add_subcommand("cancel", "cancel a task (or --all that match)");
  add_bulk_options(
      cancel, "oldest first", "pending, queued, scheduled, running (default queued and scheduled)");
  cancel->add_option("--created-after", filter.after, "only tasks pushed at or after this time");
  cancel->add_option("--created-before", filter.before, "only tasks pushed before this time");
  cancel->callback([&] { exit_code = pgtq::ctl::cancel(dsn, target_id, all, filter, std::cout); });

  auto* remove =
      app.add_subcommand("delete", "delete a task that is not running (or --all that match)");
  add_bulk_options(remove,
                   "oldest first; --state is required",
                   "pending, queued, scheduled, succeeded, failed, cancelled");
  remove->add_option("--created-after", filter.after, "only tasks pushed at or after this time");
  remove->add_option("--created-before", filter.before, "only tasks pushed before this time");
  remove->callback(
      [&] { exit_code = pgtq::ctl::delete_task(dsn, target_id, all, filter, std::cout); });

  std::string task_id;
  auto* show = app.add_subcommand(
      "show",
      "everything about one task, live or finished: state, args, result, the error of each "
      "attempt, times, worker, keys, tags, metadata, parents, progress (exit 1: no such task)");
  show->add_option("id", task_id, "task id")->required();
  add_json(show, "print one JSON object");
  show->callback([&] { exit_code = pgtq::ctl::show(dsn, task_id, json, std::cout); });

  pgtq::ctl::UpdateOptions changes;
  auto* update = app.add_subcommand(
      "update", "change a queued, scheduled, failed or cancelled task (e.g. fix args, then retry)");
  update->add_option("id", task_id, "task id")->required();
  update->add_option("--args", changes.args, "new args: a JSON array or object");
  update->add_option("--priority", changes.priority, "new priority, smaller runs first");
  update->add_option("--run-at", changes.run_at, "new start time (queued or scheduled tasks)");
  update->add_option("--max-attempts", changes.max_attempts, "new attempt limit, 1 to 1000");
  update->add_option("--timeout", changes.timeout, "new timeout of each attempt, an interval");
  update->callback([&] { exit_code = pgtq::ctl::update(dsn, task_id, changes, std::cout); });

  std::string queue_name;
  auto* pause = app.add_subcommand(
      "pause", "pause a queue: pushes are accepted, nothing is claimed until it is resumed");
  pause->add_option("queue", queue_name, "queue name")->required();
  pause->callback([&] { exit_code = pgtq::ctl::pause(dsn, queue_name, std::cout); });
  auto* resume = app.add_subcommand("resume", "resume a paused queue");
  resume->add_option("queue", queue_name, "queue name")->required();
  resume->callback([&] { exit_code = pgtq::ctl::resume(dsn, queue_name, std::cout); });

  std::string older_than;
  auto* workers = app.add_subcommand("workers", "list the pgtqd that are alive, and what they run");
  workers->add_option("--queue", queue, "only this queue");
  add_json(workers, json_rows);
  workers->callback([&] { exit_code = pgtq::ctl::workers(dsn, queue, json, std::cout); });

  pgtq::ctl::TopOptions top_options;
  auto* top = app.add_subcommand(
      "top",
      "a live view of every queue (queued, scheduled, running, pending, oldest queued, the last "
      "hour's ends, workers) and of the live workers, until q or Ctrl-C");
  top->add_option(
      "--interval", top_options.interval, "seconds between refreshes, 0.1 to 3600 (default 2)");
  top->add_flag("--once", top_options.once, "print one frame and exit");
  top->callback([&] { exit_code = pgtq::ctl::top(dsn, top_options, std::cout); });

  pgtq::ctl::QueueOptions queue_options;
  auto* queue_command = app.add_subcommand(
      "queue",
      "show a queue's settings, or change them (--global-concurrency, --key-concurrency, "
      "--key-weight, --rate-limit, --key-rate-limit, --default-priority, --default-max-attempts, "
      "--default-timeout, --reset)");
  queue_command->add_option("queue", queue_options.queue, "queue name")->required();
  queue_command->add_option("--global-concurrency",
                            queue_options.global_concurrency,
                            "at most this many of the queue's tasks running at once across every "
                            "pgtqd (1 to 100000), or 'none' for no limit");
  queue_command->add_option("--key-concurrency",
                            queue_options.key_concurrency,
                            "at most this many tasks of one fairness key running at once across "
                            "every pgtqd (1 to 100000), or 'none' for no limit");
  queue_command
      ->add_option(
          "--key-weight",
          queue_options.key_weights,
          "KEY=WEIGHT: fair claims serve fairness key KEY up to WEIGHT tasks per turn "
          "(1 to 1000) where others get one; KEY=default (or none) for 1 again; repeatable")
      ->allow_extra_args(false);
  queue_command->add_option("--default-priority",
                            queue_options.default_priority,
                            "the priority of new tasks whose push gives none (-32768 to 32767), "
                            "or 'none' for 0");
  queue_command->add_option("--default-max-attempts",
                            queue_options.default_max_attempts,
                            "the attempts of new tasks whose push gives none (1 to 1000), or "
                            "'none' for 5");
  queue_command->add_option("--default-timeout",
                            queue_options.default_timeout,
                            "the timeout of new tasks whose push gives none, an interval such as "
                            "'5 minutes', or 'none' for the task name's");
  queue_command->add_option("--rate-limit",
                            queue_options.rate_limit,
                            "at most this many of the queue's tasks started per --rate-period "
                            "across every pgtqd (1 to 1000000), or 'none' for no limit");
  queue_command->add_flag("--reset",
                          queue_options.reset,
                          "first put the queue's settings back to the defaults: resumed, no "
                          "limits, no task defaults, no key weights, no retention rules of its "
                          "own");
  queue_command->add_option(
      "--rate-period",
      queue_options.rate_period,
      "the window of --rate-limit, 1 second to 1 day (default: the queue's, else "
      "'1 second')");
  queue_command->add_option("--key-rate-limit",
                            queue_options.key_rate_limit,
                            "at most this many tasks of one fairness key started per "
                            "--key-rate-period across every pgtqd (1 to 1000000), or 'none' for "
                            "no limit");
  queue_command->add_option(
      "--key-rate-period",
      queue_options.key_rate_period,
      "the window of --key-rate-limit, 1 second to 1 day (default: the queue's, else '1 second')");
  queue_command->callback([&] { exit_code = pgtq::ctl::queue(dsn, queue_options, std::cout); });

  pgtq::ctl::RetentionOptions retention_options;
  auto* retention = app.add_subcommand(
      "retention",
      "show how long finished tasks are kept, or change it (--keep); pgtqd applies it");
  retention->add_option("--queue",
                        retention_options.queue,
                        "the queue's own rule (default: the rule of every queue without one)");
  retention->add_option(
      "--state", retention_options.state, "succeeded, failed or cancelled (default: all three)");
  retention->add_option("--keep",
                        retention_options.keep,
                        "how long after they ended tasks are kept, e.g. '7 days' (0 to 100 "
                        "years); 'forever'; or 'default' to remove the rule");
  retention->callback([&] { exit_code = pgtq::ctl::retention(dsn, retention_options, std::cout); });

  auto* schedules = app.add_subcommand(
      "schedules", "list the periodic tasks: what each pushes, when, and when it fired last");
  add_json(schedules, json_rows);
  schedules->callback([&] { exit_code = pgtq::ctl::schedules(dsn, json, std::cout); });

  pgtq::ctl::ScheduleOptions schedule_options;
  auto* schedule = app.add_subcommand(
      "schedule",
      "show a periodic task and its next fire times, or create or change it (--queue, --task, "
      "--cron or --every, ...), --pause, --resume or --delete it");
  schedule->add_option("name", schedule_options.name, "schedule name")->required();
  schedule->add_option("--queue", schedule_options.queue, "the queue its tasks go to");
  schedule->add_option("--task", schedule_options.task, "the task name it pushes");
  schedule->add_option("--args", schedule_options.args, "JSON array or object (default [])");
  schedule->add_option("--cron",
                       schedule_options.cron,
                       "cron expression: minute hour day-of-month month day-of-week, or six "
                       "fields with seconds first, or @hourly, @daily, @weekly, @monthly, "
                       "@yearly");
  schedule->add_option("--every",
                       schedule_options.every,
                       "a fixed interval instead of --cron, e.g. '15 minutes' (fire times are "
                       "its multiples since 1970-01-01 UTC)");
  schedule->add_option("--time-zone",
                       schedule_options.time_zone,
                       "the time zone of --cron's fields, e.g. Europe/Berlin (default UTC)");
  schedule->add_option("--catch-up",
                       schedule_options.catch_up,
                       "fire times missed while no pgtqd ran: latest (push the newest, the "
                       "default), all (push each), none");
  schedule->add_option("--catch-up-within",
                       schedule_options.catch_up_within,
                       "latest and all skip missed fire times older than this (default 1 day)");
  schedule->add_option(
      "--priority", schedule_options.priority, "of its tasks, or 'none' for the queue's default");
  schedule->add_option("--max-attempts",
                       schedule_options.max_attempts,
                       "of its tasks, or 'none' for the queue's default");
  schedule->add_option("--timeout",
                       schedule_options.timeout,
                       "of each attempt of its tasks, e.g. '10 minutes', or 'none' for the "
                       "queue's default");
  schedule->add_flag("--pause", schedule_options.pause, "fire nothing until resumed");
  schedule->add_flag("--resume",
                     schedule_options.resume,
                     "fire again, from the next fire time (those while paused are skipped)");
  schedule->add_flag(
      "--delete", schedule_options.remove, "delete the schedule (the tasks it pushed stay)");
  schedule->add_option("--count", schedule_options.count, "fire times shown (default 5)");
  schedule->callback([&] { exit_code = pgtq::ctl::schedule(dsn, schedule_options, std::cout); });

  std::string cron_expression;
  std::string cron_time_zone = "UTC";
  std::string cron_count = "5";
  auto* cron = app.add_subcommand(
      "cron", "show the next fire times of a cron expression, before a schedule uses it");
  cron->add_option("expression", cron_expression, "e.g. '30 2 * * *'")->required();
  cron->add_option("--time-zone", cron_time_zone, "the time zone of its fields (default UTC)");
  cron->add_option("--count", cron_count, "fire times shown (default 5)");
  cron->callback([&] {
    exit_code = pgtq::ctl::cron(dsn, cron_expression, cron_time_zone, cron_count, std::cout);
  });

  std::string wait_id;
  std::string wait_timeout = "30";
  auto* wait = app.add_subcommand(
      "wait", "wait for a task to end and show its result (exit 0: it succeeded)");
  wait->add_option("id", wait_id, "the task's id")->required();
  wait->add_option("--timeout", wait_timeout, "seconds to wait, 0..86400 (default 30)");
  wait->callback([&] { exit_code = pgtq::ctl::wait(dsn, wait_id, wait_timeout, std::cout); });

  auto* prune = app.add_subcommand("prune", "delete finished tasks older than an interval");
  prune->add_option("--older-than", older_than, "e.g. '7 days'")->required();
  prune->callback([&] { exit_code = pgtq::ctl::prune(dsn, older_than, std::cout); });

  pgtq::ctl::add_web_subcommand(app, dsn, exit_code);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    // --help and --version end with 0; every other parse error is a usage error, whatever
    // CLI11's own code for its kind (a required option missing, an extra argument).
    const int code = app.exit(error);
    return code == 0 ? 0 : 64; // EX_USAGE
  } catch (const pgtq::ctl::UsageError& error) {
    std::cerr << "pgtqctl: " << error.what() << '\n';
    return 64; // EX_USAGE
  } catch (const pgtq::db::PgError& error) {
    // One line with its SQLSTATE, DETAIL and HINT, and whether `migrate` is what is missing
    // (not when migrate itself failed: the schema is behind because of that failure).
    pgtq::ctl::report_error(
        error, migrate->parsed() ? std::nullopt : std::optional<std::string>(dsn), std::cerr);
    return 1;
  } catch (const pgtq::db::SchemaMismatch& error) {
    std::cerr << "pgtqctl: " << error.what() << '\n';
    return 78; // EX_CONFIG
  } catch (const std::exception& error) {
    std::cerr << "pgtqctl: " << error.what() << '\n';
    return 1;
  }
  return exit_code;
}
