#pragma once

#include "plugin/handler_registry.hpp"
#include "plugin/host_api.hpp"

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace pgtq::plugin {

// Loads handler plugins: dlopen, handshake (magic, ABI major, struct size), init().
// A plugin that fails any step is logged, closed and skipped; the others still load.
// Handles stay open until unload_all(), after the last handler call.
class PluginLoader {
public:
  // config_dir: where a plugin named NAME finds its config text, NAME.conf (empty: none).
  PluginLoader(HandlerRegistry& registry, BackoffPolicy default_backoff,
               std::string config_dir = "");
  ~PluginLoader();
  PluginLoader(const PluginLoader&) = delete;
  PluginLoader& operator=(const PluginLoader&) = delete;

  // Loads every *.so in dir, in name order. Returns how many loaded. Throws when the
  // directory cannot be read.
  int load_directory(const std::string& dir);
  // Loads one file; returns false (after logging why) when it was refused.
  bool load_file(const std::string& path);

  // Destroys every handler, calls every fini() and dlclose()s. Only once no handler runs.
  void unload_all();

private:
  struct Loaded {
    std::string path;
    void* handle = nullptr;
    const pgtq_plugin_info* info = nullptr;
    std::unique_ptr<pgtq_host> host;
  };

  // The text of the plugin's config file, or nothing when it has none. Throws when the file
  // exists but cannot be read, or is too large.
  std::optional<std::string> read_config(const std::string& plugin_name) const;

  HandlerRegistry& m_registry;
  BackoffPolicy m_default_backoff;
  std::string m_config_dir;
  std::vector<Loaded> m_loaded;
};

} // namespace pgtq::plugin
