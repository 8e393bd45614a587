/* Registers a handler, then refuses to load (init returns 1). pgtqd must drop the plugin
 * and the handler it had already accepted: a task `init_fails` must never run. */
#include <pgtq/plugin.h>

#include <string.h>

static pgtq_status never_runs(void* user_data, pgtq_task* task) {
  (void)user_data;
  (void)task;
  return PGTQ_DONE;
}

static int
init_fails_init(const pgtq_host_api* api, pgtq_host* host, const char* config, size_t config_len) {
  static const char message[] = "init_fails: refusing to load on purpose";
  pgtq_handler handler;
  (void)config;
  (void)config_len;

  memset(&handler, 0, sizeof handler);
  handler.struct_size = sizeof handler;
  handler.name = "init_fails";
  handler.handle = never_runs;
  api->register_handler(host, &handler);
  api->log(host, PGTQ_LOG_ERROR, message, sizeof message - 1);
  return 1;
}

PGTQ_EXPORT const pgtq_plugin_info* pgtq_plugin_entry(void) {
  static const pgtq_plugin_info info = {PGTQ_ABI_MAGIC,
                                        PGTQ_ABI_MAJOR,
                                        PGTQ_ABI_MINOR,
                                        sizeof(pgtq_plugin_info),
                                        "init_fails",
                                        "0",
                                        init_fails_init,
                                        NULL};
  return &info;
}
