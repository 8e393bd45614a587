/*
 * noop.so: `noop` succeeds at once without reading its args. Benchmarks use it to measure
 * pgtqd's own cost per task; written in C against plugin.h so no plugin code shows up in
 * the profile.
 */
#include <pgtq/plugin.h>

static pgtq_status noop_handle(void* user_data, pgtq_task* task) {
  (void)user_data;
  (void)task;
  return PGTQ_DONE;
}

static int noop_init(const pgtq_host_api* api, pgtq_host* host, const char* config,
                     size_t config_len) {
  pgtq_handler handler = {0};
  (void)config;
  (void)config_len;

  if (api->abi_major != PGTQ_ABI_MAJOR) {
    return 1;
  }
  handler.struct_size = sizeof handler;
  handler.name = "noop";
  handler.handle = noop_handle;
  return api->register_handler(host, &handler) == 0 ? 0 : 1;
}

PGTQ_EXPORT const pgtq_plugin_info* pgtq_plugin_entry(void) {
  static const pgtq_plugin_info info = {PGTQ_ABI_MAGIC, PGTQ_ABI_MAJOR, PGTQ_ABI_MINOR,
                                        sizeof(pgtq_plugin_info), "noop", "1.0", noop_init,
                                        NULL};
  return &info;
}
