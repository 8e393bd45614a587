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

static int
noop_init(const pgtq_host_api* api, pgtq_host* host, const char* config, size_t config_len) {
  pgtq_handler handler = {
      .struct_size = sizeof(pgtq_handler), .name = "noop", .handle = noop_handle};
  (void)config;
  (void)config_len;
  return api->register_handler(host, &handler) == 0 ? 0 : 1;
}

PGTQ_PLUGIN_INFO("noop", "1.0", noop_init, NULL);
