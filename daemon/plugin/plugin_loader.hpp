#pragma once

#include "plugin/handler_registry.hpp"
#include "plugin/host_api.hpp"
#include "plugin/plugin_directory.hpp"

#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace pgtq::plugin {

// How strictly the plugin directory is treated (plugin-dir-checks, plugin-load-errors).
struct LoadPolicy {
  bool check_permissions = true; // owner, modes and symlink targets (PluginDirectory)
  bool skip_failures = false;    // a plugin that cannot be loaded is left out, not fatal
};

// A private copy of a plugin file (PluginDirectory::private_copy) and the file's name.
struct PluginCopy {
  std::string file;
  UniqueFd fd;
};
// The same, borrowed.
struct PluginCopyRef {
  std::string file;
  int fd = -1;
};

// Plugins that could not be loaded, when the policy does not skip them: one line per file.
class PluginLoadError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

// Loads handler plugins: a private copy of each file (PluginDirectory), dlopen, handshake
// (magic, ABI major, struct size), init(). A plugin loads whole or not at all: one refused
// handler (a task name another plugin has, an invalid name) refuses the plugin. Handles
// stay open until unload_all(), after the last handler call. Every call into a plugin goes
// through call_plugin() (plugin_call.hpp): an init() that throws is a failed init().
class PluginLoader {
public:
  // config_dir: where a plugin named NAME finds its config text, NAME.conf (empty: none).
  PluginLoader(HandlerRegistry& registry,
               BackoffPolicy default_backoff,
               std::string config_dir = "",
               LoadPolicy policy = {});
  ~PluginLoader();
  PluginLoader(const PluginLoader&) = delete;
  PluginLoader& operator=(const PluginLoader&) = delete;

  // Loads every plugin of dir (PluginDirectory::plugin_files), in name order, and returns
  // how many loaded. Throws std::runtime_error when the directory cannot be read or is
  // unsafe, and PluginLoadError naming every file that could not be loaded unless the
  // policy skips them (then each is logged and left out).
  int load_directory(const std::string& dir);

  // Loads plugins from private copies another process made (a worker process gets pgtqd's
  // copies over its channel), each named by the file it was copied from, in the order
  // given. Returns how many loaded; throws PluginLoadError naming every copy that could not
  // be loaded unless the policy skips them.
  int load_copies(std::vector<PluginCopy> copies);

  // The private copies of the loaded plugins, in load order: BORROWED, valid until
  // unload_all() (for handing to worker processes, which load the very same bytes).
  std::vector<PluginCopyRef> copies() const;

  // Destroys every handler, calls every fini() and dlclose()s. Only once no handler runs.
  void unload_all();

private:
  struct Loaded {
    std::string file;
    void* handle = nullptr;
    const pgtq_plugin_info* info = nullptr;
    std::unique_ptr<pgtq_host> host;
    UniqueFd copy; // the private copy dlopen() mapped; open so its /proc path stays unique
  };

  // Loads one file of the directory; returns why it was refused, or an empty string.
  std::string load(const PluginDirectory& dir, const std::string& file);
  // Loads the private copy of file; returns why it was refused, or an empty string.
  std::string load_copy(const std::string& file, UniqueFd copy);
  // Throws PluginLoadError for failures (file: why) unless the policy skips them.
  void report(const std::string& where, const std::vector<std::string>& failures) const;

  // The text of the plugin's config file, or nothing when it has none. Throws when the file
  // exists but cannot be read, or is too large.
  std::optional<std::string> read_config(const std::string& plugin_name) const;

  HandlerRegistry& m_registry;
  BackoffPolicy m_default_backoff;
  std::string m_config_dir;
  LoadPolicy m_policy;
  std::vector<Loaded> m_loaded;
  std::vector<UniqueFd> m_refused_copies; // kept open: see load()
};

} // namespace pgtq::plugin
