/* probe PLUGIN.so HANDLER: load a plugin the way pgtqd does (dlopen, entry point, ABI
 * handshake, init) and check that it registers a handler named HANDLER. */
#include <pgtq/plugin.h>

#include <dlfcn.h>
#include <stdio.h>
#include <string.h>

static const char* expected;
static int registered;

static int fake_register(pgtq_host* host, const pgtq_handler* handler) {
  (void)host;
  if (handler->struct_size >= sizeof *handler && strcmp(handler->name, expected) == 0 &&
      handler->handle != NULL) {
    registered = 1;
  }
  return 0;
}

static void fake_log(pgtq_host* host, int level, const char* msg, size_t len) {
  (void)host;
  fprintf(stderr, "probe: plugin log (%d): %.*s\n", level, (int)len, msg);
}

int main(int argc, char** argv) {
  if (argc != 3) {
    fprintf(stderr, "usage: probe PLUGIN.so HANDLER\n");
    return 2;
  }
  expected = argv[2];
  void* handle = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
  if (handle == NULL) {
    fprintf(stderr, "probe: %s\n", dlerror());
    return 1;
  }
  pgtq_plugin_entry_fn entry;
  *(void**)&entry = dlsym(handle, PGTQ_PLUGIN_ENTRY_SYMBOL);
  if (entry == NULL) {
    fprintf(stderr, "probe: no %s in %s\n", PGTQ_PLUGIN_ENTRY_SYMBOL, argv[1]);
    return 1;
  }
  const pgtq_plugin_info* info = entry();
  if (info->magic != PGTQ_ABI_MAGIC || info->abi_major != PGTQ_ABI_MAJOR ||
      info->struct_size < sizeof *info || info->init == NULL) {
    fprintf(stderr, "probe: %s: bad plugin info\n", argv[1]);
    return 1;
  }
  pgtq_host_api api;
  memset(&api, 0, sizeof api);
  api.struct_size = sizeof api;
  api.abi_major = PGTQ_ABI_MAJOR;
  api.abi_minor = PGTQ_ABI_MINOR;
  api.log = fake_log;
  api.register_handler = fake_register;
  if (info->init(&api, NULL, "", 0) != 0 || !registered) {
    fprintf(stderr, "probe: %s: init did not register a handler \"%s\"\n", argv[1], expected);
    return 1;
  }
  printf("probe: %s %s: handshake and registration OK\n", info->name, info->version);
  return 0;
}
