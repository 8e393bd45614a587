/*
 * pgtq plugin ABI, version 1 (PGTQ_ABI_MAJOR.PGTQ_ABI_MINOR below).
 *
 * This header is the whole contract between pgtqd and a handler plugin. It is plain C
 * (C99) so that a plugin can be written in C, C++ or anything that speaks the C ABI; C++
 * authors may prefer plugin.hpp, which is built on it.
 *
 * A complete plugin (tests/plugin_h builds this example as C99 and C11, straight from here):
 *
 * --- example.c ---
 * #include <pgtq/plugin.h>
 *
 * static const pgtq_host_api* g_api; // kept from init(): valid until fini() returns
 *
 * // Task "hello": its result is the JSON string "hello"; stops early on shutdown.
 * static pgtq_status hello(void* user_data, pgtq_task* task) {
 *   static const char result[] = "\"hello\"";
 *   (void)user_data;
 *   if (g_api->task_should_stop(task)) { // ABI 1.0: every host has it, no check needed
 *     return PGTQ_RETRY;
 *   }
 *   return g_api->task_set_result(task, result, sizeof result - 1) == 0 ? PGTQ_DONE : PGTQ_FAIL;
 * }
 *
 * static int hello_init(const pgtq_host_api* api, pgtq_host* host, const char* config,
 *                       size_t config_len) {
 *   pgtq_handler handler = {.struct_size = sizeof(pgtq_handler), .name = "hello",
 *                           .handle = hello};
 *   (void)config;
 *   (void)config_len;
 *   g_api = api;
 *   return api->register_handler(host, &handler) == 0 ? 0 : 1;
 * }
 *
 * PGTQ_PLUGIN_INFO("hello", "1.0", hello_init, NULL);
 * --- end of example.c ---
 *
 * Build it with pgtq_add_plugin() (find_package(pgtq)) or by hand:
 *   cc -std=c99 -shared -fPIC -fvisibility=hidden hello.c -o hello.so
 *
 * A plugin is a shared object that exports exactly one symbol, pgtq_plugin_entry(), which
 * PGTQ_PLUGIN_INFO defines. pgtqd dlopen()s it, calls pgtq_plugin_entry(), checks magic and
 * ABI version, then calls init() with a table of host functions, through which the plugin
 * registers its handlers by name. A plugin that cannot be loaded (another major ABI, no
 * entry point, a failing init(), a refused or duplicate handler name) stops pgtqd at
 * start-up with exit 78 naming the file, unless the operator set plugin-load-errors = skip:
 * then it is logged and left out, whole (none of its handlers run).
 *
 * Versions. Every member below is marked with the ABI version that added it ("since 1.0").
 *  - PGTQ_ABI_MINOR goes up when something is added that older plugins and older hosts can
 *    ignore: a member at the END of pgtq_host_api, pgtq_handler or pgtq_plugin_info, a log
 *    level, a constant or macro. Members are never reordered, removed or retyped. Plugins
 *    built against 1.N load into every 1.x host, older or newer.
 *  - PGTQ_ABI_MAJOR goes up for anything else: a member removed, moved or retyped, a
 *    function whose meaning or signature changes, a new pgtq_status value (an older host
 *    fails the task that returns it), a new member the host requires. pgtqd refuses a
 *    plugin of another major.
 *  - Each struct carries struct_size, the size the side that filled it was compiled with. A
 *    reader treats members past it as absent (zero). Members since 1.0 are always there;
 *    before calling a newer host function, ask PGTQ_HOST_HAS(api, member).
 *
 * Ownership: every pointer below is marked
 *  BORROWED  valid only for the duration of the call (or of handle(), for task data);
 *            copy it if you need it later;
 *  COPIED    the receiver copies what it needs before returning; the caller keeps ownership;
 *  STATIC    must stay valid until the plugin is unloaded (string literals are fine).
 * Strings cross the boundary as (pointer, length) and need not be NUL-terminated unless
 * stated. Nothing allocated on one side is freed on the other.
 *
 * Errors are values: a handler returns a pgtq_status and may attach an error message.
 * No C++ exception may leave a plugin function (plugin.hpp catches them for C++ authors).
 * pgtqd makes every call into a plugin (pgtq_plugin_entry, init, handle, destroy, fini)
 * through one guard that catches what escapes all the same, logs it naming the plugin's
 * file, and treats the call as failed: pgtq_plugin_entry() or init() as a refused plugin
 * (what it registered is destroyed, fini() is not called), handle() as PGTQ_RETRY with an
 * error saying what escaped, destroy() and fini() as done (unloading goes on). The
 * guard cannot undo what the unwinding skipped: C frames it crossed ran no cleanup, so
 * locks may stay held and memory leak. Treat it as a crash that was survived.
 *
 * Isolation: what a handler can rely on depends on pgtqd's isolation setting.
 *  - isolation = process (the default): pgtqd loads every plugin itself (init() runs in pgtqd,
 *    which learns the task names there) and again in each of its `concurrency` worker
 *    processes, started with exec (never a fork of pgtqd) from the same private copy of the
 *    file. handle() runs in a worker process, one task at a time per process, on the worker's
 *    main thread; the process is reused for the next task. So globals are per process and
 *    are not shared between concurrent tasks; init() and fini() run once per process, and a
 *    process may end at any time without fini() (it is replaced after a crash, a memory
 *    limit hit, at pgtqd's shutdown, and when its handler has not returned timeout-grace
 *    after task_should_stop() turned true for any reason: timeout, cancellation, lost lease
 *    or shutdown). A crash (SIGSEGV, abort()) costs the task
 *    it ran (a failed attempt "killed by SIGSEGV") and that process, nothing else. Threads
 *    a plugin starts live in its worker process; fork() there is as (un)safe as in any
 *    program with threads. The host API behaves the same: log() lines go to pgtqd's log
 *    (stderr) tagged with the worker's number; task_should_stop() turns true on shutdown,
 *    cancellation, a lost lease and at the task's timeout. Database connections, leases and
 *    the recording of outcomes stay in pgtqd.
 *  - isolation = thread: every handle() runs on one of pgtqd's `concurrency` threads, in
 *    pgtqd's own process: globals are shared by concurrent tasks, a crash takes pgtqd and
 *    every task it runs down (their leases expire), timeouts are cooperative only (nothing
 *    is killed) and worker-memory-limit does not apply. Never fork() without exec from a
 *    handler: pgtqd has many threads.
 * Reload: on SIGHUP pgtqd loads the plugin directory again as a new generation; every plugin
 * of it gets a fresh init() (in pgtqd and in new worker processes) while the previous
 * generation finishes its running tasks, then gets its destroy()s and fini() (in pgtqd; a
 * worker process of it just ends). With isolation = thread both generations are loaded in one
 * process for a while: each is a separate copy with its own globals, so state shared between
 * them must live outside the plugin (a file, the database).
 */
#ifndef PGTQ_PLUGIN_H
#define PGTQ_PLUGIN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define PGTQ_ABI_MAGIC 0x70677471u /* "pgtq" */
#define PGTQ_ABI_MAJOR 1u
#define PGTQ_ABI_MINOR 3u

/* The longest delay pgtq schedules, in seconds: 100 years of 365.25 days. Every retry,
 * snooze and backoff delay is capped here (a longer one would leave PostgreSQL's
 * timestamp range, or come after anyone cares); a NaN or negative delay counts as 0. The
 * same limit bounds run_at and delay of a push. Since 1.0. */
#define PGTQ_MAX_DELAY_SECONDS 3155760000.0

#if defined(__GNUC__)
#define PGTQ_VISIBLE __attribute__((visibility("default")))
#else
#define PGTQ_VISIBLE
#endif

#ifdef __cplusplus
#define PGTQ_EXPORT extern "C" PGTQ_VISIBLE
#else
#define PGTQ_EXPORT PGTQ_VISIBLE
#endif

typedef struct pgtq_host pgtq_host; /* opaque, owned by pgtqd */
typedef struct pgtq_task pgtq_task; /* opaque, owned by pgtqd, BORROWED: valid only in handle() */

/* What a handler returns. Since 1.0; a new value needs a new major (see Versions). */
typedef enum pgtq_status {
  PGTQ_DONE = 0,  /* succeeded; the result set with task_set_result (or JSON null) is kept */
  PGTQ_RETRY = 1, /* failed, try again after the backoff (or task_set_retry_delay) while
                     attempts are left; the error message is kept */
  PGTQ_FAIL = 2,  /* failed permanently: no further attempt */
  PGTQ_SNOOZE = 3 /* not now: run again after task_set_retry_delay seconds; does not use up
                     an attempt */
} pgtq_status;

/* Log levels for pgtq_host_api.log. Since 1.0. */
enum { PGTQ_LOG_DEBUG = 0, PGTQ_LOG_INFO = 1, PGTQ_LOG_WARN = 2, PGTQ_LOG_ERROR = 3 };

/* A handler for one task name. Passed to register_handler, which COPIES the struct and the
 * name; user_data is handed back to handle() and destroy() untouched. Zero what you do not
 * set (C99: a designated initializer does), so that newer members read as absent. pgtqd
 * needs the members up to destroy; the backoff members may be left out of struct_size. */
typedef struct pgtq_handler {
  /* ---- since 1.0 ---- */
  uint32_t struct_size; /* sizeof(pgtq_handler) as the plugin was compiled */
  const char* name;     /* COPIED, NUL-terminated: the task name, [A-Za-z0-9_.:-]{1,128} */
  void* user_data;      /* plugin-owned, freed by destroy (may be NULL) */

  /* Runs one attempt of one task. May run on several worker threads at once, so it must be
   * thread-safe with respect to user_data. task is BORROWED: valid until handle() returns.
   * Where it runs depends on pgtqd's isolation setting (see "Isolation" at the top). */
  pgtq_status (*handle)(void* user_data, pgtq_task* task);

  /* Called once when pgtqd unloads the handler (may be NULL). */
  void (*destroy)(void* user_data);

  /* Retry backoff for this task name, in seconds: delay = base * factor^(attempt-1), capped
   * at cap, with +-20 % jitter, and never more than PGTQ_MAX_DELAY_SECONDS. A value <= 0
   * or NaN means "use the daemon's setting". */
  double backoff_base_s;
  double backoff_factor;
  double backoff_cap_s;

  /* ---- since 1.1 ---- */
  /* How long one attempt of this task may run, in seconds; <= 0 or NaN: the daemon's
   * task-timeout (none by default). A timeout given at push (pgtq.push's timeout) replaces
   * this one for that task, even when longer. At the deadline task_should_stop() turns true; with
   * isolation = process the worker process running it is killed after timeout-grace more
   * seconds and the attempt is recorded as "timed out after N s" (retried while attempts are
   * left). With isolation = thread nothing can be killed: the timeout is cooperative. A
   * 1.0 host ignores it (leave it out of struct_size, or zero, to keep the daemon's). */
  double timeout_s;
  /* New members go here, under a "since 1.N" line. */
} pgtq_handler;

/* A periodic task a plugin ships as a default (register_schedule, since 1.2): pgtqd pushes
 * task to queue at each fire time of cron (five fields, or six with seconds first, read on
 * time_zone's clock) or every every_s seconds. The struct and its strings are COPIED; every
 * string is NUL-terminated. The values are checked by the database (pgtq.set_schedule, README
 * "Periodic tasks") when pgtqd registers them; a refused one is logged. */
typedef struct pgtq_schedule {
  /* ---- since 1.2 ---- */
  uint32_t struct_size;  /* sizeof(pgtq_schedule) as the plugin was compiled */
  const char* name;      /* the schedule's name, 1..128 characters of [A-Za-z0-9_.:-] */
  const char* queue;     /* the queue its tasks go to: named, so that every pgtqd that loads
                          * the plugin registers the same schedule */
  const char* task;      /* the task name it pushes */
  const char* args;      /* JSON array or object; NULL: [] */
  const char* cron;      /* a cron expression; NULL: every_s */
  double every_s;        /* a fixed interval, 1 s .. 100 years, instead of cron; 0: cron */
  const char* time_zone; /* cron's time zone, e.g. "Europe/Berlin"; NULL: UTC */
  const char* catch_up;  /* fire times missed while no pgtqd ran: "latest", "all" or "none";
                          * NULL: latest */
  /* New members go here, under a "since 1.N" line. */
} pgtq_schedule;

/* Functions pgtqd offers to plugins. APPEND-ONLY: new members go at the end. The members
 * since 1.0 are in every host and need no check; call a newer one only if
 * PGTQ_HOST_HAS(api, member). */
typedef struct pgtq_host_api {
  /* ---- since 1.0 ---- */
  uint32_t struct_size; /* sizeof(pgtq_host_api) as pgtqd was compiled */
  uint32_t abi_major;
  uint32_t abi_minor;

  /* Writes a line to pgtqd's log under the plugin's name. msg is COPIED. Thread-safe. */
  void (*log)(pgtq_host* host, int level, const char* msg, size_t len);

  /* Registers a handler (only during init). The struct and its name are COPIED.
   * Returns 0, or -1 when refused (bad or duplicate name: the reason is logged, and the
   * plugin is refused as a whole once init() returns). */
  int (*register_handler)(pgtq_host* host, const pgtq_handler* handler);

  /* The task's args: JSON text (an array or an object), BORROWED, valid during handle().
   * *json is NUL-terminated as a convenience; *len excludes the NUL. */
  void (*task_args)(const pgtq_task* task, const char** json, size_t* len);

  /* The task's name (BORROWED, NUL-terminated), id and attempt number (1 on the first run). */
  const char* (*task_name)(const pgtq_task* task);
  int64_t (*task_id)(const pgtq_task* task);
  int32_t (*task_attempt)(const pgtq_task* task);

  /* Sets the result kept with a succeeded task. json is COPIED and must be valid JSON that
   * PostgreSQL's jsonb accepts (so no \u0000 escape); if it is not, the task fails
   * permanently with an error saying so. Returns 0, or -1 when the text is refused. The
   * last call wins. */
  int (*task_set_result)(pgtq_task* task, const char* json, size_t len);

  /* Sets the error message kept with a failed attempt (PGTQ_RETRY, PGTQ_FAIL; ignored for
   * PGTQ_DONE and PGTQ_SNOOZE). msg is COPIED; invalid UTF-8 is replaced. */
  void (*task_set_error)(pgtq_task* task, const char* msg, size_t len);

  /* For PGTQ_RETRY or PGTQ_SNOOZE: run again after this many seconds (overrides backoff).
   * Clamped to [0, PGTQ_MAX_DELAY_SECONDS]: NaN and negative values count as 0, larger ones
   * and infinity as PGTQ_MAX_DELAY_SECONDS. */
  void (*task_set_retry_delay)(pgtq_task* task, double seconds);

  /* Non-zero once the handler should stop early: pgtqd is shutting down, the task was
   * cancelled, or its lease was lost. A long handler polls this and returns PGTQ_RETRY. */
  int (*task_should_stop)(const pgtq_task* task);

  /* ---- since 1.2 ---- */
  /* Ships a default periodic task (only during init; ask PGTQ_HOST_HAS first). When pgtqd
   * starts or reloads its plugins it creates the schedule in pgtq.schedules if the name is
   * free, and updates it while it is still as a plugin registered it; once an operator has
   * set, paused, resumed or deleted it, the operator's version stays (pgtq.register_schedule).
   * Returns 0, or -1 when refused (NULL name, queue or task; neither or both of cron and
   * every_s; a name registered twice): the reason is logged and the plugin still loads. */
  int (*register_schedule)(pgtq_host* host, const pgtq_schedule* schedule);

  /* ---- since 1.3 ---- */
  /* The tasks this one depends on (push's depends_on, README "Dependencies and follow-ups"):
   * a JSON array in id order, one object per parent, BORROWED, valid during handle(),
   * NUL-terminated:
   *   {"id": 12, "task": "resize", "state": "succeeded", "result": {...}}
   * state is the parent's end state (succeeded, failed, cancelled, or deleted; for a task
   * retried from the history with pgtq.retry, a parent's live state if it runs again);
   * result is its result if it succeeded, else null; past the first 16 MiB of results in
   * total a parent's is null and it has "result_omitted": true. "[]" when the task has none. */
  void (*task_parents)(const pgtq_task* task, const char** json, size_t* len);

  /* Pushes a follow-up task that is committed with this attempt's outcome, in the same
   * transaction, and only if the attempt succeeds (PGTQ_DONE): it never exists otherwise
   * (retry, failure, a crash, a lost lease). json (COPIED) is one JSON object with the keys of
   * an element of pgtq.push_many's JSON form (README "Pushing tasks": "task" required; "args",
   * "priority", "delay", "run_at", "max_attempts", "timeout", "fairness_key", "tags",
   * "metadata", "depends_on", "on_parent_failure") and "queue" (default: this task's queue).
   * Returns 0, or -1 when refused: not such an object, more than 1000 or 16 MiB in one
   * attempt (the reason is logged; the database checks the values when it records them, and
   * a follow-up it refuses fails the attempt for good with the reason). The calls add up. */
  int (*task_push_followup)(pgtq_task* task, const char* json, size_t len);

  /* Reports how far the task is: any JSON value (COPIED), at most 64 KiB, e.g.
   * {"done": 40, "total": 100}. Shown in pgtq.tasks.progress while the task runs and kept when
   * it ends. As cheap as a copy: pgtqd writes the latest value at most once a second, whatever
   * the call rate. Returns 0, or -1 when refused (not JSON that jsonb accepts, too long,
   * nested more than 100 deep; the reason is logged). */
  int (*task_set_progress)(pgtq_task* task, const char* json, size_t len);

  /* Saves a checkpoint, any JSON value (COPIED) of at most 1 MiB, that the next attempt of this
   * task reads with task_checkpoint(): after a retry, a snooze, a timeout, a crash of the
   * handler's worker process or a restart of pgtqd, a long task resumes where it stopped. The
   * last call wins. pgtqd writes it at most once a second while the task runs and with the
   * attempt's outcome (and before a stopped task is given back at shutdown), so what reaches
   * the next attempt is the last checkpoint saved, unless pgtqd itself died within a second of
   * it, or (isolation = thread only) it was saved after the stop at the end of the shutdown
   * grace, when the task is given back without waiting for the handler. Returns 0, or -1 when
   * refused (as progress). */
  int (*task_set_checkpoint)(pgtq_task* task, const char* json, size_t len);

  /* The checkpoint an earlier attempt saved (BORROWED, valid during handle(), NUL-terminated):
   * *json is NULL and *len 0 when there is none, as on the first attempt. */
  void (*task_checkpoint)(const pgtq_task* task, const char** json, size_t* len);
  /* New members go here, under a "since 1.N" line. */
} pgtq_host_api;

/* Describes a plugin. Returned by pgtq_plugin_entry(); STATIC. PGTQ_PLUGIN_INFO fills it. */
typedef struct pgtq_plugin_info {
  /* ---- since 1.0 ---- */
  uint32_t magic;       /* PGTQ_ABI_MAGIC */
  uint32_t abi_major;   /* PGTQ_ABI_MAJOR the plugin was built against */
  uint32_t abi_minor;   /* PGTQ_ABI_MINOR the plugin was built against */
  uint32_t struct_size; /* sizeof(pgtq_plugin_info) */
  const char* name;     /* STATIC: the plugin's name, for logs */
  const char* version;  /* STATIC: the plugin's own version, for logs */

  /* Called once after the handshake, from one thread. api and host stay valid until fini()
   * returns, so the plugin may keep them. config is the text of the file NAME.conf (NAME:
   * this struct's name) in pgtqd's plugin-config-dir, as it is (BORROWED, NUL-terminated;
   * empty when there is none); its format is the plugin's to choose. Registers handlers;
   * returns 0, or non-zero to refuse to load: pgtqd logs it, calls destroy() of every
   * handler it had registered, does not call fini() and unloads it; then it stops (exit 78)
   * or, with plugin-load-errors = skip, goes on without it. */
  int (*init)(const pgtq_host_api* api, pgtq_host* host, const char* config, size_t config_len);

  /* Called once before unloading, after every handler's destroy (may be NULL). */
  void (*fini)(void);
  /* New members go here, under a "since 1.N" line. */
} pgtq_plugin_info;

/* The one symbol a plugin exports. Since 1.0. */
#define PGTQ_PLUGIN_ENTRY_SYMBOL "pgtq_plugin_entry"
typedef const pgtq_plugin_info* (*pgtq_plugin_entry_fn)(void);
PGTQ_EXPORT const pgtq_plugin_info* pgtq_plugin_entry(void);

/* Defines pgtq_plugin_entry() and the info block it returns, filled in with this header's
 * magic, ABI version and struct size, so that they cannot be got wrong (PostgreSQL's
 * PG_MODULE_MAGIC plays the same part). Use it once per plugin, at file scope, followed by
 * a semicolon:
 *   PGTQ_PLUGIN_INFO("name", "version", init_function, fini_function_or_NULL);
 * name and version must outlive the plugin (string literals). Since 1.0. */
#define PGTQ_PLUGIN_INFO(plugin_name, plugin_version, init_function, fini_function)                \
  PGTQ_EXPORT const pgtq_plugin_info* pgtq_plugin_entry(void) {                                    \
    static const pgtq_plugin_info pgtq_plugin_info_block = {PGTQ_ABI_MAGIC,                        \
                                                            PGTQ_ABI_MAJOR,                        \
                                                            PGTQ_ABI_MINOR,                        \
                                                            sizeof(pgtq_plugin_info),              \
                                                            plugin_name,                           \
                                                            plugin_version,                        \
                                                            init_function,                         \
                                                            fini_function};                        \
    return &pgtq_plugin_info_block;                                                                \
  }                                                                                                \
  struct pgtq_plugin_info_defined /* only there to take the semicolon after the macro */

/* The size of a struct up to and including member: what a struct_size of that version
 * covers. E.g. PGTQ_SIZE_THROUGH(pgtq_host_api, task_should_stop) is ABI 1.0's table. */
#define PGTQ_SIZE_THROUGH(type, member) (offsetof(type, member) + sizeof(((type*)0)->member))

/* The sizes of ABI 1.0's structs: the least a 1.x host or plugin hands over. */
#define PGTQ_HOST_API_SIZE_1_0 PGTQ_SIZE_THROUGH(pgtq_host_api, task_should_stop)
#define PGTQ_PLUGIN_INFO_SIZE_1_0 PGTQ_SIZE_THROUGH(pgtq_plugin_info, fini)

/* Non-zero when the host table api (a const pgtq_host_api*) has member and fills it in:
 * the member lies within the api->struct_size the host was compiled with, and is not NULL.
 * Ask before calling a member newer than 1.0 (Redis's RMAPI_FUNC_SUPPORTED, SQLite's
 * "new interfaces at the end only"), e.g. for a member added in 1.1:
 *   if (PGTQ_HOST_HAS(g_api, task_new_thing)) g_api->task_new_thing(task);
 * Since 1.0. */
#define PGTQ_HOST_HAS(api, member)                                                                 \
  (PGTQ_SIZE_THROUGH(pgtq_host_api, member) <= (api)->struct_size && (api)->member != NULL)

#ifdef __cplusplus
}
#endif

#endif /* PGTQ_PLUGIN_H */
