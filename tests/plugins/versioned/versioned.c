/*
 * versioned.so, built twice (test-plugins/versioned_v1 and versioned_v2) with
 * PGTQ_TEST_VERSION "1" and "2", for the reload tests: task `version` {"ms": n} sleeps n ms
 * (stopping early on should_stop) and returns its build's version as a JSON string. It ships
 * the default schedule versioned.report (ABI 1.2), whose args name its build's version: on 29
 * February at 03:00 in Berlin, so that it never fires during a test.
 */
#include <pgtq/plugin.h>

#include <stdlib.h>
#include <string.h>
#include <time.h>

#ifndef PGTQ_TEST_VERSION
#error "PGTQ_TEST_VERSION must name the build"
#endif

static const pgtq_host_api* g_api;

/* The number after "ms": in the args, 0 when there is none. */
static long wanted_ms(pgtq_task* task) {
  const char* json = NULL;
  size_t len = 0;
  const char* at;
  g_api->task_args(task, &json, &len);
  at = strstr(json, "\"ms\":");
  return at != NULL ? strtol(at + 5, NULL, 10) : 0;
}

static pgtq_status version(void* user_data, pgtq_task* task) {
  static const char result[] = "\"" PGTQ_TEST_VERSION "\"";
  long left = wanted_ms(task);
  (void)user_data;
  while (left > 0) {
    struct timespec pause = {0, 5000000L};
    if (g_api->task_should_stop(task)) {
      return PGTQ_RETRY;
    }
    nanosleep(&pause, NULL);
    left -= 5;
  }
  return g_api->task_set_result(task, result, sizeof result - 1) == 0 ? PGTQ_DONE : PGTQ_FAIL;
}

static int
versioned_init(const pgtq_host_api* api, pgtq_host* host, const char* config, size_t config_len) {
  pgtq_handler handler = {
      .struct_size = sizeof(pgtq_handler), .name = "version", .handle = version};
  pgtq_schedule report = {.struct_size = sizeof(pgtq_schedule),
                          .name = "versioned.report",
                          .queue = "default",
                          .task = "version",
                          .args = "{\"built\": \"" PGTQ_TEST_VERSION "\"}",
                          .cron = "0 3 29 2 *",
                          .time_zone = "Europe/Berlin"};
  (void)config;
  (void)config_len;
  g_api = api;
  if (api->register_handler(host, &handler) != 0) {
    return 1;
  }
  if (PGTQ_HOST_HAS(api, register_schedule)) {
    api->register_schedule(host, &report); /* a refusal is logged; the handler still serves */
  }
  return 0;
}

PGTQ_PLUGIN_INFO("versioned", PGTQ_TEST_VERSION, versioned_init, NULL);
