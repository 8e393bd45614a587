/*
 * stamp.so: `stamp` succeeds at once and keeps {"t": <microseconds since the epoch>}, read
 * from CLOCK_REALTIME when its handler was entered. The benchmark compares it with the
 * moment the push's COMMIT was acknowledged to the pushing client, on the same host and
 * clock, which gives the pickup latency as a worker sees it. `pause_1ms` sleeps 1 ms.
 */
#include <pgtq/plugin.h>

#include <stdio.h>
#include <time.h>

static const pgtq_host_api* g_api;

static pgtq_status stamp_handle(void* user_data, pgtq_task* task) {
  struct timespec now;
  char json[64];
  int len;
  (void)user_data;
  clock_gettime(CLOCK_REALTIME, &now);
  len = snprintf(json,
                 sizeof json,
                 "{\"t\":%lld}",
                 (long long)now.tv_sec * 1000000LL + (long long)(now.tv_nsec / 1000));
  g_api->task_set_result(task, json, (size_t)len);
  return PGTQ_DONE;
}

/* `pause_1ms`: sleeps 1 ms and succeeds: a task whose handler takes about as long as a
 * cache lookup or a small RPC, for the isolation comparison (bench/run.sh --isolation). */
static pgtq_status pause_handle(void* user_data, pgtq_task* task) {
  struct timespec pause = {0, 1000000L};
  (void)user_data;
  (void)task;
  while (nanosleep(&pause, &pause) != 0) {
  }
  return PGTQ_DONE;
}

static int
stamp_init(const pgtq_host_api* api, pgtq_host* host, const char* config, size_t config_len) {
  pgtq_handler handler = {0};
  (void)config;
  (void)config_len;
  if (api->abi_major != PGTQ_ABI_MAJOR) {
    return 1;
  }
  g_api = api;
  handler.struct_size = sizeof handler;
  handler.name = "stamp";
  handler.handle = stamp_handle;
  if (api->register_handler(host, &handler) != 0) {
    return 1;
  }
  handler.name = "pause_1ms";
  handler.handle = pause_handle;
  return api->register_handler(host, &handler) == 0 ? 0 : 1;
}

PGTQ_EXPORT const pgtq_plugin_info* pgtq_plugin_entry(void) {
  static const pgtq_plugin_info info = {PGTQ_ABI_MAGIC,
                                        PGTQ_ABI_MAJOR,
                                        PGTQ_ABI_MINOR,
                                        sizeof(pgtq_plugin_info),
                                        "stamp",
                                        "1.0",
                                        stamp_init,
                                        NULL};
  return &info;
}
