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

/* Kept from init(): plugin.h guarantees the table outlives every handler call. */
static const pgtq_host_api* g_api;

static int host_has_all(const pgtq_host_api* api) {
  /* Everything this plugin calls is ABI 1.0, so one size check covers it. */
  return api->abi_major == PGTQ_ABI_MAJOR &&
         api->struct_size >= offsetof(pgtq_host_api, task_set_error) + sizeof(api->task_set_error);
}

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
  const char* reason;
  size_t reason_len = 0;
  (void)user_data;

  g_api->task_args(task, &json, &len);
  reason = find_fail(json, len, &reason_len);
  if (reason != NULL) {
    g_api->task_set_error(task, reason, reason_len);
    return PGTQ_FAIL;
  }
  /* The args came from jsonb, so they are valid JSON; the host copies them. */
  if (g_api->task_set_result(task, json, len) != 0) {
    return PGTQ_FAIL;
  }
  return PGTQ_DONE;
}

static int echo_init(const pgtq_host_api* api, pgtq_host* host, const char* config,
                     size_t config_len) {
  pgtq_handler handler;
  (void)config;
  (void)config_len;

  if (!host_has_all(api)) {
    return 1;
  }
  g_api = api;

  memset(&handler, 0, sizeof handler); /* zero backoff fields: use pgtqd's settings */
  handler.struct_size = sizeof handler;
  handler.name = "echo";
  handler.handle = echo_handle;
  return api->register_handler(host, &handler) == 0 ? 0 : 1;
}

PGTQ_EXPORT const pgtq_plugin_info* pgtq_plugin_entry(void) {
  static const pgtq_plugin_info info = {PGTQ_ABI_MAGIC, PGTQ_ABI_MAJOR, PGTQ_ABI_MINOR,
                                        sizeof(pgtq_plugin_info), "echo", "1.0", echo_init,
                                        NULL};
  return &info;
}
