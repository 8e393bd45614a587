// pgtqd's options: each declared here once, with its default, range and documentation.
// Config (config.hpp) has one field per entry; everything else (the command line, the
// config file, the PGTQ_* variables, the range checks, --help, the README's option table
// and the example config) is driven by this table.
#include "app/config_options.hpp"
#include "app/queue_list.hpp"
#include "db/conninfo.hpp"
#include "http/listen_address.hpp"
#include "plugin/host_api.hpp"

#include <pgtq/detail/utf8.hpp>

#include <algorithm>
#include <cstdint>

namespace pgtq::app {
namespace {

constexpr double k_day = 86400;

bool has_control(std::string_view text) {
  return std::any_of(text.begin(), text.end(), [](char c) {
    return static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
  });
}

std::string check_dsn(std::string_view value) {
  return db::is_parsable_conninfo(std::string(value))
             ? ""
             : "is neither key=value pairs nor a postgresql:// URI that libpq can parse (the "
               "text is not shown: it may hold a password)";
}

std::string check_path(std::string_view value) {
  return has_control(value) ? "must not contain control characters (a newline, a tab, ...)" : "";
}

std::string check_worker_name(std::string_view value) {
  if (!pgtq::detail::is_utf8(value)) {
    return "must be UTF-8 text";
  }
  return has_control(value) ? "must not contain control characters (a newline, a tab, ...)" : "";
}

std::string check_listen(std::string_view value) {
  std::string why;
  return value.empty() || http::parse_listen_address(value, &why) ? "" : why;
}

// "auto", or a whole number of tasks from 0 to 10000.
std::string check_prefetch(std::string_view value) {
  if (value == "auto") {
    return "";
  }
  const bool digits =
      !value.empty() && value.size() <= 5 &&
      std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; });
  return digits && std::stoi(std::string(value)) <= 10000
             ? ""
             : "must be auto or a whole number from 0 to 10000";
}

// Durations are at least 10 ms (a smaller one is a typo or a busy loop: 1e-9 s ran 53,000
// transactions in 6 s) and at most a day, except retry delays, which may reach pgtq's cap
// on any computed delay, 100 years.
const std::vector<OptionSpec> k_options = {
    {.name = "queue",
     .kind = OptionKind::text,
     .field = &Config::queue,
     .min = 1,
     .max = 65536,
     .check = queue_list_error,
     .repeatable = true,
     .help = "the queue this daemon works (required), or several (--queue a --queue b, or "
             "a, b), each with concurrency workers of its own (or shared, see shared-workers), "
             "or N written NAME=N",
     .allowed_note = "queue names (1-128 characters from [A-Za-z0-9_.:-]), each NAME or NAME=N, "
                     "separated by commas",
     .default_note = "(required)",
     .details = "The queues this pgtqd serves: one name, or several separated by commas. Each "
                "queue has its own workers, concurrency of them unless written NAME=N (N from 1 "
                "to 1024), its own claim loop and its own database sessions; a busy queue does "
                "not borrow the workers of an idle one unless they share them (shared-workers). "
                "Required, but the systemd unit passes "
                "its instance name (--queue %i), which overrides this: to serve several queues "
                "from one unit, change its command line with a drop-in (see the README)."},
    {.name = "dsn",
     .kind = OptionKind::text,
     .field = &Config::dsn,
     .max = 65536,
     .check = check_dsn,
     .secret = true,
     .help = "libpq conninfo or postgresql:// URI; empty: the PG* environment variables. Keep "
             "passwords in a pgpass file; with a primary and standbys, list the hosts and add "
             "target_session_attrs=read-write",
     .allowed_note = "what libpq parses",
     .default_note = "PG* variables",
     .details =
         "Where the database is: a libpq connection string (\"host=db.example.com dbname=app "
         "user=pgtq\") or URI (\"postgresql://pgtq@db.example.com/app\"). Empty means libpq's "
         "environment variables (PGHOST, PGDATABASE, PGUSER, ...) and their defaults.\n\n"
         "Never put a password here: this file is not secret enough. Use a password file (see "
         "pgpassfile in the libpq documentation) named by PGPASSFILE; the unit explains how to "
         "hand one over with LoadCredential= so that only this service can read it."},
    {.name = "plugin-dir",
     .kind = OptionKind::text,
     .field = &Config::plugin_dir,
     .min = 1,
     .max = 4096,
     .check = check_path,
     .help = "load every *.so plugin in this directory (see Plugin directory rules)",
     .allowed_note = "a directory",
     .default_note = "../lib/pgtq/plugins from pgtqd's own directory",
     .details = "Directory of handler plugins (*.so); pgtqd loads every plugin in it at start "
                "(not hidden files, not other names). Each is loaded from a private copy, so "
                "replacing a file here never affects a running pgtqd: reload it (SIGHUP, systemctl "
                "reload) or restart it to load the "
                "new version."},
    {.name = "plugin-dir-checks",
     .kind = OptionKind::choice,
     .field = &Config::plugin_dir_checks,
     .default_value = "strict",
     .choices = "strict|off",
     .help = "strict: the plugin directory, the directories above it and every plugin must be "
             "owned by root or pgtqd's user and writable by no one else, and a symlink must "
             "stay inside the directory; off: no such checks (development only)",
     .details = "strict: like OpenSSH's StrictModes, the plugin directory, every directory "
                "above it and every plugin must be owned by root or by the user pgtqd runs as "
                "(pgtq under systemd) and be writable by no one else (a directory above with "
                "the sticky bit, such as /tmp, may be), and a symlink must lead to a file "
                "inside the directory. Whoever can write a plugin runs code as pgtqd. off: no "
                "such checks, for development machines only."},
    {.name = "plugin-load-errors",
     .kind = OptionKind::choice,
     .field = &Config::plugin_load_errors,
     .default_value = "fail",
     .choices = "fail|skip",
     .help = "fail: a plugin that cannot be loaded stops pgtqd (exit 78); skip: it is logged and "
             "left out",
     .details = "fail: a plugin that cannot be loaded (two plugins registering one task name, a "
                "wrong ABI, no entry point, a failing init(), a refused file) stops pgtqd with "
                "exit status 78 and a message naming the file(s). skip: it is logged and left "
                "out, and pgtqd runs with the rest."},
    {.name = "plugin-config-dir",
     .kind = OptionKind::text,
     .field = &Config::plugin_config_dir,
     .max = 4096,
     .check = check_path,
     .help = "a plugin named NAME gets the text of NAME.conf in this directory as its config "
             "(Registry::config() in C++, init()'s config in C); empty: none",
     .allowed_note = "an existing directory",
     .default_note = "(none)",
     .details = "Settings for the plugins: a plugin named NAME (as pgtqd logs it when it loads) "
                "gets the text of NAME.conf in this directory, in whatever format the plugin "
                "reads. Empty: none; otherwise it must be an existing directory."},
    {.name = "concurrency",
     .kind = OptionKind::integer,
     .field = &Config::concurrency,
     .default_value = "8",
     .min = 1,
     .max = 1024,
     .help = "workers (processes or threads, see isolation): how many tasks run at once"},
    {.name = "shared-workers",
     .kind = OptionKind::flag,
     .field = &Config::shared_workers,
     .default_value = "false",
     .help = "with several queues: those without workers of their own (NAME=N) share "
             "concurrency workers, split by queue-weights while several have work; false: each "
             "has concurrency workers of its own",
     .details = "Several queues, one pool of workers: the queues listed without =N share the "
                "concurrency workers. A queue with work is owed concurrency × its weight / the "
                "sum of the weights of the queues with work (in whole workers: the whole parts, "
                "then what is left one each to the heaviest) and may always take "
                "that; beyond it, it takes the workers the others are not owed, so no worker "
                "idles while any shared queue has work. Such queues claim only for free workers "
                "(prefetch applies to queues with workers of their own). (--no-shared-workers)"},
    {.name = "queue-weights",
     .kind = OptionKind::text,
     .field = &Config::queue_weights,
     .max = 65536,
     .check = queue_weights_error,
     .repeatable = true,
     .help = "with shared-workers: how the shared workers are split while several queues have "
             "work, NAME=W for each queue that is not 1",
     .allowed_note = "NAME=W separated by commas, W from 1 to 1000, NAME a shared queue",
     .default_note = "(every queue 1)",
     .details = "Weights of the shared queues (shared-workers), NAME=W separated by commas, W "
                "from 1 to 1000; a queue not named weighs 1. With 8 workers and emails=3, "
                "reports=1, emails is owed 6 workers and reports 2 while both have work, and "
                "either takes all 8 while the other has none. A weight of 1000 against 1 is a "
                "strict priority up to 1000 workers: the other queue is owed nothing and runs on "
                "what is left."},
    {.name = "prefetch",
     .kind = OptionKind::text,
     .field = &Config::prefetch,
     .default_value = "auto",
     .min = 1,
     .max = 5,
     .check = check_prefetch,
     .help = "tasks claimed ahead of the free workers and held in memory, so that a busy daemon "
             "claims in larger batches; auto: as many as the workers start within about 5 ms "
             "(none for slow tasks); they go back to the queue at once on shutdown",
     .allowed_note = "auto, or 0 to 10000",
     .details = "Tasks claimed ahead of the free workers, held in memory until a worker is free: "
                "a busy daemon then claims in larger batches (more tasks/s), at the price of "
                "holding tasks another daemon could have run. auto (the default) holds as many "
                "as the workers would start within about 5 ms, judged by how long recent "
                "attempts ran: short tasks get a deep buffer, tasks that run longer than "
                "concurrency × 5 ms get none, and it starts at 0. Its depth follows the backlog: "
                "4 per worker, doubled by each claim that comes back full up to 32 per worker "
                "(512 per queue), 4 again after a claim that comes back short; held args stay "
                "under about 8 MiB; held tasks the workers would not start within about 100 ms "
                "once attempts turn slow are given back to the queue. A number fixes it; 0 "
                "claims only for free workers."},
    {.name = "isolation",
     .kind = OptionKind::choice,
     .field = &Config::isolation,
     .default_value = "process",
     .choices = "process|thread",
     .help = "process: each of the concurrency workers is a process of its own, so a handler "
             "that crashes, hangs past its timeout or runs out of memory costs one attempt, not "
             "pgtqd; thread: handlers run on pgtqd's own threads (a crash takes pgtqd down, "
             "timeouts are cooperative)",
     .details =
         "Where handlers run. process: pgtqd starts concurrency worker processes (its own "
         "binary, exec'ed, shown in ps as \"pgtqd: worker N (queue Q)\"), each loading the "
         "plugins and running one task at a time; pgtqd keeps the database connections, "
         "leases and outcomes. A handler that crashes costs its attempt (recorded at once "
         "as \"killed by SIGSEGV\") and its worker, which is started again; one past its "
         "timeout is killed; worker-memory-limit applies. thread: handlers run on pgtqd's "
         "threads, faster for tasks well under a millisecond (about 1.5 times the no-op rate "
         "on 2 cores); a crash stops pgtqd and every task it "
         "runs, and timeouts only make should_stop() true."},
    {.name = "task-timeout",
     .kind = OptionKind::seconds,
     .field = &Config::task_timeout,
     .default_value = "0",
     .min = 0,
     .max = plugin::k_max_delay_s,
     .help = "seconds an attempt may run when neither its push (timeout) nor its plugin (for its "
             "task name) sets a timeout; 0: no limit",
     .allowed_note = "0 (none) to 3155760000 seconds",
     .details = "How long one attempt may run when neither its push (pgtq.push's timeout) nor "
                "its plugin (for its task name) sets a timeout (0: no limit). At the deadline "
                "should_stop() turns true; with isolation "
                "= process the worker is killed timeout-grace seconds later if the handler has "
                "not returned, and the attempt is recorded as \"timed out after N s\" and retried "
                "while attempts are left. With isolation = thread nothing can be killed: a "
                "handler that ignores should_stop() runs on."},
    {.name = "timeout-grace",
     .kind = OptionKind::seconds,
     .field = &Config::timeout_grace,
     .default_value = "5",
     .min = 0,
     .max = 3600,
     .help = "isolation = process: seconds a handler gets to return after should_stop() turned "
             "true (a timeout, a cancellation, a lost lease, the end of shutdown-grace), before "
             "its worker is killed"},
    {.name = "worker-memory-limit",
     .kind = OptionKind::integer,
     .field = &Config::worker_memory_limit,
     .default_value = "0",
     .min = 0,
     .max = 1048576,
     .help = "isolation = process: MiB of heap (RLIMIT_DATA) each worker process may use; an "
             "allocation beyond it fails the attempt and the worker is replaced; 0: no limit",
     .allowed_note = "0 (none) to 1048576 MiB",
     .details = "isolation = process: the most memory, in MiB, each worker process may allocate "
                "(its RLIMIT_DATA: heap and private mappings, not code). An allocation beyond it "
                "fails: a C++ handler gets std::bad_alloc, the attempt fails with \"out of "
                "memory: the worker reached worker-memory-limit\" and the worker is replaced by a "
                "fresh one; a handler that crashes instead costs its attempt as any crash does. "
                "pgtqd itself is not limited. 0: no limit. Not with AddressSanitizer builds, "
                "whose shadow memory counts against it."},
    {.name = "log-level",
     .kind = OptionKind::choice,
     .field = &Config::log_level,
     .default_value = "info",
     .choices = "trace|debug|info|warn|error",
     .help = "the least important messages logged"},
    {.name = "lease",
     .kind = OptionKind::seconds,
     .field = &Config::lease,
     .default_value = "15",
     .min = 1,
     .max = k_day,
     .help = "seconds a claimed task is held without a heartbeat",
     .details = "How long a claimed task stays reserved for this worker. A worker that dies "
                "loses its tasks to another worker once the lease runs out, so keep it short, "
                "and renewed (heartbeat)."},
    {.name = "heartbeat",
     .kind = OptionKind::seconds,
     .field = &Config::heartbeat,
     .default_value = "5",
     .min = 0.01,
     .max = k_day / 2,
     .help = "seconds between lease renewals while a task runs",
     .allowed_note = "0.01 seconds to half the lease"},
    {.name = "session-grace",
     .kind = OptionKind::seconds,
     .field = &Config::session_grace,
     .default_value = "1",
     .min = 0.5,
     .max = 3600,
     .help = "seconds this worker may stay disconnected before its tasks are rescued",
     .details = "When this pgtqd's database session ends (it was killed, or its connection was "
                "closed) and it has not connected again within this time, other pgtqd rescue its "
                "tasks without waiting out their leases; it stops its own tasks a quarter "
                "earlier (a worker process is killed at once; a thread handler is asked to "
                "stop), so that they do not run twice at once: a database restart longer than "
                "that stops them too. At the lease or more, or with prepared-statements = "
                "false, tasks wait for their leases as before."},
    {.name = "poll-interval",
     .kind = OptionKind::seconds,
     .field = &Config::poll_interval,
     .default_value = "2",
     .min = 0.01,
     .max = k_day,
     .help = "seconds between claim attempts when no notification arrives",
     .details = "Backstop poll when no notification arrives (pgtqd normally wakes on "
                "LISTEN/NOTIFY)."},
    {.name = "shutdown-grace",
     .kind = OptionKind::seconds,
     .field = &Config::shutdown_grace,
     .default_value = "30",
     .min = 0,
     .max = k_day,
     .help = "seconds running tasks get to finish after SIGTERM",
     .details = "On SIGTERM, how long running tasks may finish before they are cancelled. Keep "
                "it below the unit's TimeoutStopSec (45 s), or systemd kills pgtqd mid-drain."},
    {.name = "backoff-base",
     .kind = OptionKind::seconds,
     .field = &Config::backoff_base,
     .default_value = "1",
     .min = 0.01,
     .max = plugin::k_max_delay_s,
     .help = "retry delay after the first failure: base * factor^(attempt - 1), at most "
             "backoff-cap, with +-20 % jitter; a plugin may set its own per task name"},
    {.name = "backoff-factor",
     .kind = OptionKind::number,
     .field = &Config::backoff_factor,
     .default_value = "2",
     .min = 1,
     .max = 100,
     .help = "retry delay growth per attempt"},
    {.name = "backoff-cap",
     .kind = OptionKind::seconds,
     .field = &Config::backoff_cap,
     .default_value = "3600",
     .min = 0.01,
     .max = plugin::k_max_delay_s,
     .help = "longest retry delay",
     .allowed_note = "backoff-base to 3155760000 seconds (100 years, pgtq's limit on any delay)"},
    {.name = "scheduler",
     .kind = OptionKind::flag,
     .field = &Config::scheduler,
     .default_value = "true",
     .help = "run the scheduler thread (delayed tasks, retries, rescue)",
     .details = "Make delayed tasks and retries due, and rescue tasks whose lease expired. Any "
                "number of pgtqd may do it at once; set false to leave it to others "
                "(--no-scheduler)."},
    {.name = "scheduler-interval",
     .kind = OptionKind::seconds,
     .field = &Config::scheduler_interval,
     .default_value = "1",
     .min = 0.01,
     .max = 3600,
     .help = "seconds between scheduler ticks"},
    {.name = "migrate",
     .kind = OptionKind::flag,
     .field = &Config::migrate,
     .default_value = "false",
     .help = "apply schema migrations at start",
     .details = "Apply pending schema migrations at start. Off by default: the schema is usually "
                "migrated once per deployment (\"pgtqctl migrate\"), not by every worker. With "
                "it off, pgtqd exits with status 78 when the schema is older or newer than it "
                "expects."},
    {.name = "prepared-statements",
     .kind = OptionKind::flag,
     .field = &Config::prepared_statements,
     .default_value = "true",
     .help = "prepare each statement once per connection; turn off behind a transaction-mode "
             "pooler that cannot carry prepared statements (pgbouncer before 1.21), and lower "
             "poll-interval (e.g. 0.2), as notifications do not arrive there"},
    {.name = "worker-name",
     .kind = OptionKind::text,
     .field = &Config::worker_name,
     .max = 128,
     .check = check_worker_name,
     .help = "name recorded in locked_by of the tasks this worker runs",
     .allowed_note = "up to 128 bytes of UTF-8, no control characters",
     .default_note = "host:pid"},
    {.name = "metrics-listen",
     .kind = OptionKind::text,
     .field = &Config::metrics_listen,
     .max = 300,
     .check = check_listen,
     .help = "serve Prometheus metrics over HTTP at this HOST:PORT (GET /metrics)",
     .allowed_note = "HOST:PORT, e.g. 127.0.0.1:9187 or [::1]:9187; port 0: one the system "
                     "picks (logged)",
     .default_note = "off",
     .details = "Serve Prometheus metrics at http://HOST:PORT/metrics: per queue the tasks by "
                "state, the oldest queued task's age and the live workers (from the database, "
                "read at most every 5 seconds), and this pgtqd's counters (claims, attempts by "
                "outcome, timeouts, crashes, rescues, handler durations, wake-ups, reconnects). "
                "No authentication: listen on loopback, or behind a firewall. Off when empty."},
};

} // namespace

const std::vector<OptionSpec>& option_table() {
  return k_options;
}

} // namespace pgtq::app
