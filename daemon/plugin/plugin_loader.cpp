#include "plugin/plugin_loader.hpp"

#include "plugin/plugin_call.hpp"

#include <spdlog/spdlog.h>

#include <dlfcn.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <system_error>

namespace pgtq::plugin {
namespace {

std::shared_ptr<spdlog::logger> logger() {
  auto found = spdlog::get("plugin");
  return found ? found : spdlog::default_logger();
}

// What a plugin function that threw counts as, when reporting itself ran out of memory.
std::string escaped_or(std::string escaped, const char* function) {
  return escaped.empty() ? std::string(function) + " let an exception escape" : escaped;
}

} // namespace

PluginLoader::PluginLoader(HandlerRegistry& registry,
                           BackoffPolicy default_backoff,
                           std::string config_dir,
                           LoadPolicy policy)
    : m_registry(registry), m_default_backoff(default_backoff), m_config_dir(std::move(config_dir)),
      m_policy(policy) {}

std::optional<std::string> PluginLoader::read_config(const std::string& plugin_name) const {
  if (m_config_dir.empty()) {
    return std::nullopt;
  }
  // The name comes from the plugin: it must not reach outside the directory.
  if (plugin_name.empty() || plugin_name.find('/') != std::string::npos || plugin_name[0] == '.') {
    throw std::runtime_error("its name cannot name a config file");
  }
  const std::string path = (std::filesystem::path(m_config_dir) / (plugin_name + ".conf")).string();
  // O_NONBLOCK: a FIFO in its place must not hang the start.
  const UniqueFd file(::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC));
  if (file.get() < 0) {
    if (errno == ENOENT) {
      return std::nullopt;
    }
    throw std::runtime_error("config " + path + ": " + std::system_category().message(errno));
  }
  struct stat status {};
  if (::fstat(file.get(), &status) != 0 || !S_ISREG(status.st_mode)) {
    throw std::runtime_error("config " + path + " is not a regular file");
  }
  constexpr off_t k_max_size = 1 << 20;
  if (status.st_size > k_max_size) {
    throw std::runtime_error("config " + path + " is over 1 MiB");
  }
  std::string text;
  char buffer[1 << 14];
  for (;;) {
    const ssize_t got = ::read(file.get(), buffer, sizeof buffer);
    if (got < 0 && errno == EINTR) {
      continue;
    }
    if (got < 0) {
      throw std::runtime_error("cannot read config " + path + ": " +
                               std::system_category().message(errno));
    }
    if (got == 0) {
      break;
    }
    text.append(buffer, static_cast<std::size_t>(got));
    if (text.size() > static_cast<std::size_t>(k_max_size)) {
      throw std::runtime_error("config " + path + " is over 1 MiB");
    }
  }
  logger()->info("plugin \"{}\": config from {}", plugin_name, path);
  return text;
}

PluginLoader::~PluginLoader() {
  unload_all();
}

int PluginLoader::load_directory(const std::string& dir) {
  const PluginDirectory directory(dir, m_policy.check_permissions);
  std::vector<std::string> failures;
  for (const std::string& file : directory.plugin_files()) {
    const std::string why = load(directory, file);
    if (!why.empty()) {
      logger()->error("plugin \"{}\": {}; not loaded", file, why);
      failures.push_back(file + ": " + why);
    }
  }
  report(directory.path(), failures);
  return static_cast<int>(m_loaded.size());
}

int PluginLoader::load_copies(std::vector<PluginCopy> copies) {
  std::vector<std::string> failures;
  for (PluginCopy& copy : copies) {
    const std::string why = load_copy(copy.file, std::move(copy.fd));
    if (!why.empty()) {
      logger()->error("plugin \"{}\": {}; not loaded", copy.file, why);
      failures.push_back(copy.file + ": " + why);
    }
  }
  report("pgtqd's private copies", failures);
  return static_cast<int>(m_loaded.size());
}

std::vector<PluginCopyRef> PluginLoader::copies() const {
  std::vector<PluginCopyRef> copies;
  for (const Loaded& loaded : m_loaded) {
    copies.push_back({loaded.file, loaded.copy.get()});
  }
  return copies;
}

void PluginLoader::report(const std::string& where,
                          const std::vector<std::string>& failures) const {
  if (failures.empty() || m_policy.skip_failures) {
    return;
  }
  std::string message = std::to_string(failures.size()) + " plugin(s) in " + where +
                        " could not be loaded (plugin-load-errors = skip starts without them):";
  for (const std::string& failure : failures) {
    message += "\n  " + failure;
  }
  throw PluginLoadError(message);
}

std::string PluginLoader::load(const PluginDirectory& dir, const std::string& file) {
  UniqueFd copy;
  try {
    copy = dir.private_copy(file);
  } catch (const PluginFileError& error) {
    return error.what();
  }
  return load_copy(file, std::move(copy));
}

std::string PluginLoader::load_copy(const std::string& file, UniqueFd copy) {
  const std::string path = fd_path(copy.get());
  // dlopen() finds an object already loaded under the same name and returns it instead of
  // loading this file. Every copy stays open (m_refused_copies for the refused ones, which
  // dlclose() may leave mapped), so no later copy reuses a descriptor number and its path.
  if (void* already = dlopen(path.c_str(), RTLD_NOW | RTLD_NOLOAD); already != nullptr) {
    dlclose(already);
    return "cannot load: " + path + " already names a loaded object";
  }
  // RTLD_LOCAL: plugins cannot see each other's symbols; RTLD_NOW: missing symbols fail
  // here, not in the middle of a task.
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    m_refused_copies.push_back(std::move(copy));
    return std::string("cannot load: ") + dlerror();
  }
  auto refuse = [&](const std::string& why) {
    dlclose(handle);
    m_refused_copies.push_back(std::move(copy));
    return why;
  };

  auto* entry = reinterpret_cast<pgtq_plugin_entry_fn>(dlsym(handle, PGTQ_PLUGIN_ENTRY_SYMBOL));
  if (entry == nullptr) {
    return refuse(std::string("no ") + PGTQ_PLUGIN_ENTRY_SYMBOL + "() exported");
  }
  const auto entered = call_plugin(file, "pgtq_plugin_entry()", entry);
  if (!entered) {
    return refuse(escaped_or(entered.escaped, "pgtq_plugin_entry()"));
  }
  const pgtq_plugin_info* info = *entered.value;
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
  if (info->struct_size < PGTQ_PLUGIN_INFO_SIZE_1_0) {
    return refuse("plugin info struct too small (" + std::to_string(info->struct_size) +
                  " bytes, ABI 1.0 has " + std::to_string(PGTQ_PLUGIN_INFO_SIZE_1_0) + ")");
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
  const auto init = call_plugin(host->label, "init()", [&] {
    return info->init(&host_api(), host.get(), config.c_str(), config.size());
  });
  host->registering = false;
  const bool init_succeeded = init && *init.value == 0;
  if (!init_succeeded || !host->refused.empty()) {
    // Whatever it registered goes too (destroy() is called for each): a plugin is loaded
    // whole or not at all, so a task never runs with half of its plugin. An init() that
    // threw counts as one that failed.
    m_registry.remove_plugin(host->label);
    std::string why;
    if (!init) {
      why = escaped_or(init.escaped, "init()");
    } else if (!init_succeeded) {
      why = "init() returned " + std::to_string(*init.value);
    }
    for (const std::string& refused : host->refused) {
      why += (why.empty() ? "" : "; ") + ("handler refused: " + refused);
    }
    if (init_succeeded && info->fini != nullptr) {
      call_plugin(host->label, "fini()", info->fini); // init() succeeded: it is owed its fini()
    }
    return refuse(why);
  }
  logger()->info("loaded plugin \"{}\" {} from {} (ABI {}.{})",
                 host->plugin_name,
                 info->version != nullptr ? info->version : "",
                 file,
                 info->abi_major,
                 info->abi_minor);
  m_loaded.push_back({file, handle, info, std::move(host), std::move(copy)});
  return {};
}

void PluginLoader::unload_all() {
  m_registry.destroy_all();
  for (auto it = m_loaded.rbegin(); it != m_loaded.rend(); ++it) {
    if (it->info->fini != nullptr) {
      call_plugin(it->host->label, "fini()", it->info->fini); // logged; unloading goes on
    }
    dlclose(it->handle);
  }
  m_loaded.clear();
}

} // namespace pgtq::plugin
