/* A minimal handler plugin in plain C: one handler, "hello", that succeeds. */
#include <pgtq/plugin.h>

/* Deliberately external: pgtq_add_plugin's hidden visibility must keep it out of the
 * dynamic symbol table all the same. */
pgtq_status hello_result(void);
pgtq_status hello_result(void) {
  return PGTQ_DONE;
}

static pgtq_status hello_handle(void* user_data, pgtq_task* task) {
  (void)user_data;
  (void)task;
  return hello_result();
}

static int
hello_init(const pgtq_host_api* api, pgtq_host* host, const char* config, size_t config_len) {
  (void)config;
  (void)config_len;
  pgtq_handler handler = {0};
  handler.struct_size = sizeof handler;
  handler.name = "hello";
  handler.handle = hello_handle;
  return api->register_handler(host, &handler);
}

PGTQ_EXPORT const pgtq_plugin_info* pgtq_plugin_entry(void) {
  static const pgtq_plugin_info info = {PGTQ_ABI_MAGIC,
                                        PGTQ_ABI_MAJOR,
                                        PGTQ_ABI_MINOR,
                                        sizeof(pgtq_plugin_info),
                                        "hello",
                                        "1.0",
                                        hello_init,
                                        NULL};
  return &info;
}
