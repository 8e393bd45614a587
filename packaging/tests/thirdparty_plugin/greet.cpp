// A minimal handler plugin in C++ through plugin.hpp: typed handler, JSON args and result.
#include <pgtq/plugin.hpp>

#include <string>

namespace {

std::string greet(const std::string& name) {
  return "Hello, " + name + "!";
}

} // namespace

PGTQ_PLUGIN("greet", "1.0", [](pgtq::Registry& registry) { PGTQ_HANDLER(registry, greet); });
