/* Built for a future ABI major (2). pgtqd must refuse it without calling init(), which
 * would abort to prove the point. */
#include <pgtq/plugin.h>

#include <stdlib.h>

static int
abi_v2_init(const pgtq_host_api* api, pgtq_host* host, const char* config, size_t config_len) {
  (void)api;
  (void)host;
  (void)config;
  (void)config_len;
  abort();
}

PGTQ_EXPORT const pgtq_plugin_info* pgtq_plugin_entry(void) {
  static const pgtq_plugin_info info = {
      PGTQ_ABI_MAGIC, 2u, 0u, sizeof(pgtq_plugin_info), "abi_v2", "0", abi_v2_init, NULL};
  return &info;
}
