#include "plugin/plugin_loader.hpp"

#include <dlfcn.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <system_error>

namespace pgtq::plugin {
namespace {

std::shared_ptr<spdlog::logger> logger() {
  auto found = spdlog::get("plugin");
  return found ? found : spdlog::default_logger();
}

// The ABI 1.0 size of pgtq_plugin_info: everything up to and including fini.
constexpr std::size_t k_info_size_v1_0 = offsetof(pgtq_plugin_info, fini) + sizeof(void (*)());

} // namespace

PluginLoader::PluginLoader(HandlerRegistry& registry, BackoffPolicy default_backoff,
                           std::string config_dir)
    : m_registry(registry), m_default_backoff(default_backoff),
      m_config_dir(std::move(config_dir)) {}

std::optional<std::string> PluginLoader::read_config(const std::string& plugin_name) const {
  if (m_config_dir.empty()) {
    return std::nullopt;
  }
  // The name comes from the plugin: it must not reach outside the directory.
  if (plugin_name.empty() || plugin_name.find('/') != std::string::npos || plugin_name[0] == '.') {
    throw std::runtime_error("its name cannot name a config file");
  }
  const std::filesystem::path path = std::filesystem::path(m_config_dir) / (plugin_name + ".conf");
  std::error_code error;
  if (!std::filesystem::exists(path, error)) {
    return std::nullopt;
  }
  constexpr std::uintmax_t k_max_size = 1 << 20;
  const std::uintmax_t size = std::filesystem::file_size(path, error);
  if (error || size > k_max_size) {
    throw std::runtime_error("config " + path.string() +
                             (error ? ": " + error.message() : " is over 1 MiB"));
  }
  std::ifstream file(path, std::ios::binary);
  std::string text(static_cast<std::size_t>(size), '\0');
  if (!file.read(text.data(), static_cast<std::streamsize>(size))) {
    throw std::runtime_error("cannot read config " + path.string());
  }
  logger()->info("plugin \"{}\": config from {}", plugin_name, path.string());
  return text;
}

PluginLoader::~PluginLoader() { unload_all(); }

int PluginLoader::load_directory(const std::string& dir) {
  std::error_code error;
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(dir, error)) {
    if (entry.path().extension() == ".so" && !entry.is_directory()) {
      files.push_back(entry.path());
    }
  }
  if (error) {
    throw std::runtime_error("cannot read plugin directory " + dir + ": " + error.message());
  }
  std::sort(files.begin(), files.end());
  int loaded = 0;
  for (const auto& file : files) {
    loaded += load_file(file.string()) ? 1 : 0;
  }
  return loaded;
}

bool PluginLoader::load_file(const std::string& path) {
  const std::string file = std::filesystem::path(path).filename().string();
  // RTLD_LOCAL: plugins cannot see each other's symbols; RTLD_NOW: missing symbols fail
  // here, not in the middle of a task.
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    logger()->error("plugin \"{}\": cannot load: {}", file, dlerror());
    return false;
  }
  auto refuse = [&](const std::string& why) {
    logger()->error("plugin \"{}\": {}; not loaded", file, why);
    dlclose(handle);
    return false;
  };

  auto* entry = reinterpret_cast<pgtq_plugin_entry_fn>(dlsym(handle, PGTQ_PLUGIN_ENTRY_SYMBOL));
  if (entry == nullptr) {
    return refuse(std::string("no ") + PGTQ_PLUGIN_ENTRY_SYMBOL + "() exported");
  }
  const pgtq_plugin_info* info = entry();
  if (info == nullptr) {
    return refuse(std::string(PGTQ_PLUGIN_ENTRY_SYMBOL) + "() returned NULL");
  }
  if (info->magic != PGTQ_ABI_MAGIC) {
    return refuse("not a pgtq plugin (bad magic number)");
  }
  if (info->abi_major != PGTQ_ABI_MAJOR) {
    return refuse("ABI " + std::to_string(info->abi_major) + ", pgtqd speaks " +
                  std::to_string(PGTQ_ABI_MAJOR));
  }
  if (info->struct_size < k_info_size_v1_0) {
    return refuse("plugin info struct too small (" + std::to_string(info->struct_size) +
                  " bytes, ABI 1.0 has " + std::to_string(k_info_size_v1_0) + ")");
  }
  if (info->init == nullptr) {
    return refuse("no init function");
  }

  auto host = std::make_unique<pgtq_host>();
  host->plugin_name = info->name != nullptr ? info->name : file;
  host->label = host->plugin_name + " (" + file + ")";
  host->registry = &m_registry;
  host->default_backoff = m_default_backoff;
  std::string config;
  try {
    config = read_config(host->plugin_name).value_or("");
  } catch (const std::exception& error) {
    return refuse(error.what());
  }
  host->registering = true;
  // The loader runs before any worker thread exists, so registration needs no lock.
  const int status = info->init(&host_api(), host.get(), config.c_str(), config.size());
  host->registering = false;
  if (status != 0) {
    // Whatever it registered before failing goes too (destroy() is called for each): a
    // plugin that refused to load runs no task.
    logger()->error("plugin \"{}\" ({}): init() returned {}; not loaded", host->plugin_name,
                    file, status);
    m_registry.remove_plugin(host->label);
    dlclose(handle);
    return false;
  }
  logger()->info("loaded plugin \"{}\" {} from {} (ABI {}.{})", host->plugin_name,
                 info->version != nullptr ? info->version : "", file, info->abi_major,
                 info->abi_minor);
  m_loaded.push_back({path, handle, info, std::move(host)});
  return true;
}

void PluginLoader::unload_all() {
  m_registry.destroy_all();
  for (auto it = m_loaded.rbegin(); it != m_loaded.rend(); ++it) {
    if (it->info->fini != nullptr) {
      it->info->fini();
    }
    dlclose(it->handle);
  }
  m_loaded.clear();
}

} // namespace pgtq::plugin
