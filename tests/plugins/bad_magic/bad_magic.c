/* Not a pgtq plugin: the magic number is wrong. pgtqd must refuse it and carry on. */
#include <pgtq/plugin.h>

static int
bad_magic_init(const pgtq_host_api* api, pgtq_host* host, const char* config, size_t config_len) {
  (void)api;
  (void)host;
  (void)config;
  (void)config_len;
  return 0;
}

PGTQ_EXPORT const pgtq_plugin_info* pgtq_plugin_entry(void) {
  static const pgtq_plugin_info info = {0x12345678u,
                                        PGTQ_ABI_MAJOR,
                                        PGTQ_ABI_MINOR,
                                        sizeof(pgtq_plugin_info),
                                        "bad_magic",
                                        "0",
                                        bad_magic_init,
                                        NULL};
  return &info;
}
