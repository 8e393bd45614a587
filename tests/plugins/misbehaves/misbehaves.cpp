// A C++ plugin written against plugin.h alone, without plugin.hpp's barrier, that breaks the
// ABI on request: its config text (misbehaves.conf in plugin-config-dir) lists what to do.
//   init=throw      init() registers `misbehave`, then throws std::runtime_error
//   init=throw_int  the same, throwing an int (no std::exception, no message)
//   init=fail       init() registers `misbehave`, then returns 2
//   destroy=throw   the handler's destroy() throws
//   fini=throw      fini() throws
//   handle=throw    `misbehave` throws instead of returning; otherwise it succeeds with "ok"
// Each callback logs "misbehaves: <name> ran" first, so tests see which ones pgtqd called.
#include <pgtq/plugin.h>

#include <stdexcept>
#include <string>
#include <string_view>

namespace {

const pgtq_host_api* g_api = nullptr;
pgtq_host* g_host = nullptr;
std::string g_config;

bool asked(std::string_view what) {
  return g_config.find(what) != std::string::npos;
}

void say(std::string_view message) {
  if (g_api != nullptr) {
    g_api->log(g_host, PGTQ_LOG_INFO, message.data(), message.size());
  }
}

pgtq_status misbehave(void*, pgtq_task* task) {
  say("misbehaves: handle ran");
  if (asked("handle=throw")) {
    throw std::runtime_error("handle trouble");
  }
  static constexpr std::string_view ok = "\"ok\"";
  return g_api->task_set_result(task, ok.data(), ok.size()) == 0 ? PGTQ_DONE : PGTQ_FAIL;
}

void destroy(void*) {
  say("misbehaves: destroy ran");
  if (asked("destroy=throw")) {
    throw std::runtime_error("destroy trouble");
  }
}

int init(const pgtq_host_api* api, pgtq_host* host, const char* config, size_t config_len) {
  g_api = api;
  g_host = host;
  g_config.assign(config, config_len);
  say("misbehaves: init ran");
  pgtq_handler handler{};
  handler.struct_size = sizeof handler;
  handler.name = "misbehave";
  handler.handle = misbehave;
  handler.destroy = destroy;
  if (api->register_handler(host, &handler) != 0) {
    return 1;
  }
  if (asked("init=throw_int")) {
    throw 42;
  }
  if (asked("init=throw")) {
    throw std::runtime_error("init trouble");
  }
  return asked("init=fail") ? 2 : 0;
}

void fini() {
  say("misbehaves: fini ran");
  if (asked("fini=throw")) {
    throw std::runtime_error("fini trouble");
  }
}

} // namespace

PGTQ_PLUGIN_INFO("misbehaves", "0", init, fini);
