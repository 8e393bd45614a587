/*
 * configured.so: `plugin_config` returns the config text pgtqd handed to init() as the
 * task's result (JSON null when there was none), so that tests can see what arrived.
 */
#include <pgtq/plugin.h>

#include <stdlib.h>
#include <string.h>

static const pgtq_host_api* g_api;
static char* g_config;
static size_t g_config_len;

static pgtq_status show_config(void* user_data, pgtq_task* task) {
  (void)user_data;
  if (g_config_len == 0) {
    return PGTQ_DONE;
  }
  return g_api->task_set_result(task, g_config, g_config_len) == 0 ? PGTQ_DONE : PGTQ_FAIL;
}

static int
configured_init(const pgtq_host_api* api, pgtq_host* host, const char* config, size_t config_len) {
  pgtq_handler handler = {0};
  g_api = api;
  if (config_len > 0) {
    g_config = malloc(config_len);
    if (g_config == NULL) {
      return 1;
    }
    memcpy(g_config, config, config_len);
    g_config_len = config_len;
  }
  handler.struct_size = sizeof handler;
  handler.name = "plugin_config";
  handler.handle = show_config;
  return api->register_handler(host, &handler) == 0 ? 0 : 1;
}

static void configured_fini(void) {
  free(g_config);
  g_config = NULL;
  g_config_len = 0;
}

PGTQ_EXPORT const pgtq_plugin_info* pgtq_plugin_entry(void) {
  static const pgtq_plugin_info info = {PGTQ_ABI_MAGIC,
                                        PGTQ_ABI_MAJOR,
                                        PGTQ_ABI_MINOR,
                                        sizeof(pgtq_plugin_info),
                                        "configured",
                                        "1.0",
                                        configured_init,
                                        configured_fini};
  return &info;
}
