#pragma once

#include "plugin/handler_registry.hpp"
#include "plugin/plugin_loader.hpp"

#include <memory>
#include <string>
#include <vector>

namespace pgtq::plugin {

// One generation of plugins: every plugin of the plugin directory as it was when it was
// loaded, with its handlers' registry and the private copies the plugins were loaded from.
// pgtqd serves new claims from the newest generation; each claimed task holds the one it was
// claimed under, so that after a reload (SIGHUP) running tasks finish on the code they started
// with. A generation is unloaded (every destroy(), every fini(), dlclose) when its last holder
// lets it go, on that holder's thread: only then can no handler of it be running.
class PluginSet {
public:
  struct Options {
    std::string dir;        // the plugin directory
    BackoffPolicy backoff;  // the daemon's default retry backoff
    std::string config_dir; // plugin-config-dir; empty: none
    LoadPolicy policy;
  };

  // Loads every plugin of options.dir (PluginLoader::load_directory) as generation number
  // `generation`. Throws what load_directory throws, and std::runtime_error when no plugin
  // registered a handler.
  static std::shared_ptr<const PluginSet> load(const Options& options, int generation);
  // Handlers registered by hand, with no plugin file behind them (the claim loop's own
  // tests): generation 1, no copies for worker processes.
  static std::shared_ptr<const PluginSet> of(HandlerRegistry registry);

  PluginSet(const PluginSet&) = delete;
  PluginSet& operator=(const PluginSet&) = delete;
  ~PluginSet() = default; // m_loader unloads, before m_registry goes

  const HandlerRegistry& registry() const { return m_registry; }
  // The private copies, for worker processes: BORROWED, valid while this set lives.
  std::vector<PluginCopyRef> copies() const { return m_loader.copies(); }
  int generation() const { return m_generation; }
  // "a, b, c": the task names, for the log.
  std::string names_text() const;

private:
  PluginSet(const Options& options, int generation);
  explicit PluginSet(HandlerRegistry registry);

  HandlerRegistry m_registry;
  PluginLoader m_loader; // after m_registry: destroyed (unloading) first
  int m_generation;
};

} // namespace pgtq::plugin
