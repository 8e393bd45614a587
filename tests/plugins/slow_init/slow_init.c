/* init() logs, then blocks for ten minutes, as a plugin waiting on an unreachable service
 * would: a SIGTERM meanwhile must still end pgtqd at once. */
#include <pgtq/plugin.h>

#include <time.h>

static int
slow_init_init(const pgtq_host_api* api, pgtq_host* host, const char* config, size_t config_len) {
  static const char message[] = "slow_init: init() blocks on purpose";
  struct timespec left = {600, 0};
  (void)config;
  (void)config_len;
  api->log(host, PGTQ_LOG_INFO, message, sizeof message - 1);
  while (nanosleep(&left, &left) != 0) {
  }
  return 1;
}

PGTQ_EXPORT const pgtq_plugin_info* pgtq_plugin_entry(void) {
  static const pgtq_plugin_info info = {PGTQ_ABI_MAGIC,
                                        PGTQ_ABI_MAJOR,
                                        PGTQ_ABI_MINOR,
                                        sizeof(pgtq_plugin_info),
                                        "slow_init",
                                        "0",
                                        slow_init_init,
                                        NULL};
  return &info;
}
