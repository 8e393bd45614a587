/* Loads in pgtqd but refuses to load in a worker process (init returns 1 there) while the
 * file named by $PGTQ_TEST_REFUSE_FILE exists: a worker that cannot be started, which the
 * test can mend by removing the file. `worker_refuses` succeeds. */
#include <pgtq/plugin.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static pgtq_status succeed(void* user_data, pgtq_task* task) {
  (void)user_data;
  (void)task;
  return PGTQ_DONE;
}

/* A worker process names its thread "pgtqd: worker N" before it loads its plugins. */
static int in_worker(void) {
  char name[32] = {0};
  FILE* comm = fopen("/proc/self/comm", "r");
  if (comm == NULL) {
    return 0;
  }
  const size_t got = fread(name, 1, sizeof name - 1, comm);
  fclose(comm);
  return got > 0 && strncmp(name, "pgtqd: worker", 13) == 0;
}

static int
worker_refuses_init(const pgtq_host_api* api, pgtq_host* host, const char* config, size_t len) {
  static const char message[] = "worker_refuses: refusing to load in a worker on purpose";
  const char* file = getenv("PGTQ_TEST_REFUSE_FILE");
  pgtq_handler handler;
  (void)config;
  (void)len;
  if (in_worker() && file != NULL && access(file, F_OK) == 0) {
    api->log(host, PGTQ_LOG_ERROR, message, sizeof message - 1);
    return 1;
  }
  memset(&handler, 0, sizeof handler);
  handler.struct_size = sizeof handler;
  handler.name = "worker_refuses";
  handler.handle = succeed;
  return api->register_handler(host, &handler) == 0 ? 0 : 1;
}

PGTQ_EXPORT const pgtq_plugin_info* pgtq_plugin_entry(void) {
  static const pgtq_plugin_info info = {PGTQ_ABI_MAGIC,
                                        PGTQ_ABI_MAJOR,
                                        PGTQ_ABI_MINOR,
                                        sizeof(pgtq_plugin_info),
                                        "worker_refuses",
                                        "0",
                                        worker_refuses_init,
                                        NULL};
  return &info;
}
