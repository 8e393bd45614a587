/* Registers `add_numbers`, which math.so (copied next to it) already has, and `dup_only`.
 * pgtqd loads math.so first (files in name order), so it must refuse this add_numbers and
 * name both files. This plugin ignores the refusal and returns 0, but pgtqd loads a plugin
 * whole or not at all: it stops with exit 78, or with plugin-load-errors = skip leaves this
 * plugin out (dup_only included) and keeps math's add_numbers, never "duplicate". */
#include <pgtq/plugin.h>

#include <string.h>

static const pgtq_host_api* g_api;

static pgtq_status duplicate_handle(void* user_data, pgtq_task* task) {
  static const char result[] = "\"duplicate\"";
  (void)user_data;
  g_api->task_set_result(task, result, sizeof result - 1);
  return PGTQ_DONE;
}

static int
math_dup_init(const pgtq_host_api* api, pgtq_host* host, const char* config, size_t config_len) {
  pgtq_handler handler;
  (void)config;
  (void)config_len;

  g_api = api;
  memset(&handler, 0, sizeof handler);
  handler.struct_size = sizeof handler;
  handler.handle = duplicate_handle;
  handler.name = "add_numbers";
  api->register_handler(host, &handler);
  handler.name = "dup_only";
  return api->register_handler(host, &handler) == 0 ? 0 : 1;
}

PGTQ_EXPORT const pgtq_plugin_info* pgtq_plugin_entry(void) {
  static const pgtq_plugin_info info = {PGTQ_ABI_MAGIC,
                                        PGTQ_ABI_MAJOR,
                                        PGTQ_ABI_MINOR,
                                        sizeof(pgtq_plugin_info),
                                        "math_dup",
                                        "0",
                                        math_dup_init,
                                        NULL};
  return &info;
}
