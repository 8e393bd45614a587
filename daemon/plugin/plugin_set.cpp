#include "plugin/plugin_set.hpp"

#include <stdexcept>

namespace pgtq::plugin {

PluginSet::PluginSet(const Options& options, int generation)
    : m_loader(m_registry, options.backoff, options.config_dir, options.policy),
      m_generation(generation) {
  m_loader.load_directory(options.dir);
  if (m_registry.empty()) {
    throw std::runtime_error("no task handlers were registered from " + options.dir);
  }
}

PluginSet::PluginSet(HandlerRegistry registry)
    : m_registry(std::move(registry)), m_loader(m_registry, {}), m_generation(1) {}

std::shared_ptr<const PluginSet> PluginSet::of(HandlerRegistry registry) {
  return std::shared_ptr<const PluginSet>(new PluginSet(std::move(registry)));
}

std::shared_ptr<const PluginSet> PluginSet::load(const Options& options, int generation) {
  return std::shared_ptr<const PluginSet>(new PluginSet(options, generation));
}

std::string PluginSet::names_text() const {
  std::string names;
  for (const std::string& name : m_registry.names()) {
    names += (names.empty() ? "" : ", ") + name;
  }
  return names;
}

} // namespace pgtq::plugin
