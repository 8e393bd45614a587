/* Task `bad_status` returns 42, which is no pgtq_status. pgtqd must fail the task with a
 * message naming the value rather than guess. */
#include <pgtq/plugin.h>

#include <string.h>

static pgtq_status bad_status_handle(void* user_data, pgtq_task* task) {
  (void)user_data;
  (void)task;
  return (pgtq_status)42;
}

static int
bad_status_init(const pgtq_host_api* api, pgtq_host* host, const char* config, size_t config_len) {
  pgtq_handler handler;
  (void)config;
  (void)config_len;

  memset(&handler, 0, sizeof handler);
  handler.struct_size = sizeof handler;
  handler.name = "bad_status";
  handler.handle = bad_status_handle;
  return api->register_handler(host, &handler) == 0 ? 0 : 1;
}

PGTQ_EXPORT const pgtq_plugin_info* pgtq_plugin_entry(void) {
  static const pgtq_plugin_info info = {PGTQ_ABI_MAGIC,
                                        PGTQ_ABI_MAJOR,
                                        PGTQ_ABI_MINOR,
                                        sizeof(pgtq_plugin_info),
                                        "bad_status",
                                        "0",
                                        bad_status_init,
                                        NULL};
  return &info;
}
