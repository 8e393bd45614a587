/* Refuses to load (init returns 1), and is linked with -z nodelete, so that dlclose() leaves
 * it mapped, as g++'s unique symbols or TLS destructors would: the next plugin pgtqd loads
 * must be that plugin, not this one found again under a reused /proc/self/fd path. */
#include <pgtq/plugin.h>

static int
nodelete_init(const pgtq_host_api* api, pgtq_host* host, const char* config, size_t config_len) {
  static const char message[] = "nodelete: refusing to load on purpose";
  (void)config;
  (void)config_len;
  api->log(host, PGTQ_LOG_ERROR, message, sizeof message - 1);
  return 1;
}

PGTQ_EXPORT const pgtq_plugin_info* pgtq_plugin_entry(void) {
  static const pgtq_plugin_info info = {PGTQ_ABI_MAGIC,
                                        PGTQ_ABI_MAJOR,
                                        PGTQ_ABI_MINOR,
                                        sizeof(pgtq_plugin_info),
                                        "nodelete",
                                        "0",
                                        nodelete_init,
                                        NULL};
  return &info;
}
