/*
 * echo.so: a plugin in plain C99 against plugin.h alone, to show the bare ABI.
 *
 *   echo  any args                  -> the same JSON as result
 *         {"fail": "reason", ...}   -> fails permanently with that reason (a C handler
 *                                      reports errors with task_set_error + PGTQ_FAIL)
 *
 * The "fail" lookup is a plain text search, enough for a demo; real plugins parse JSON.
 */
#include <pgtq/plugin.h>

#include <string.h>

/* Kept from init(): plugin.h guarantees the table outlives every handler call. Everything
 * called through it is ABI 1.0, which every host has, so nothing needs PGTQ_HOST_HAS. */
static const pgtq_host_api* g_api;

/* Finds "fail":"<text>" at the top level of a small object; NULL when absent. The reason is
 * returned as written in JSON (escapes are not decoded). */
static const char* find_fail(const char* json, size_t len, size_t* reason_len) {
  static const char key[] = "\"fail\"";
  const char* end = json + len;
  const char* at = json;
  while ((size_t)(end - at) >= sizeof key - 1) {
    if (memcmp(at, key, sizeof key - 1) == 0) {
      const char* p = at + sizeof key - 1;
      while (p < end && (*p == ' ' || *p == ':')) {
        ++p;
      }
      if (p < end && *p == '"') {
        const char* start = ++p;
        while (p < end && *p != '"') {
          p += (*p == '\\' && p + 1 < end) ? 2 : 1;
        }
        *reason_len = (size_t)(p - start);
        return start;
      }
    }
    ++at;
  }
  return NULL;
}

static pgtq_status echo_handle(void* user_data, pgtq_task* task) {
  const char* json = NULL;
  size_t len = 0;
  size_t reason_len = 0;
  const char* reason;
  (void)user_data;

  g_api->task_args(task, &json, &len);
  reason = find_fail(json, len, &reason_len);
  if (reason != NULL) {
    g_api->task_set_error(task, reason, reason_len);
    return PGTQ_FAIL;
  }
  /* The args came from jsonb, so they are valid JSON; the host copies them. */
  return g_api->task_set_result(task, json, len) == 0 ? PGTQ_DONE : PGTQ_FAIL;
}

static int
echo_init(const pgtq_host_api* api, pgtq_host* host, const char* config, size_t config_len) {
  /* Unnamed members are zero: no destroy, and pgtqd's backoff settings. */
  pgtq_handler handler = {
      .struct_size = sizeof(pgtq_handler), .name = "echo", .handle = echo_handle};
  (void)config;
  (void)config_len;
  g_api = api;
  return api->register_handler(host, &handler) == 0 ? 0 : 1;
}

PGTQ_PLUGIN_INFO("echo", "1.0", echo_init, NULL);
