#include "app/install_paths.hpp"

#include <build_config.hpp>

#include <filesystem>
#include <system_error>

namespace pgtq::app {

std::string default_plugin_dir() {
  const std::string relative = build::k_plugin_dir_from_sbin;
  std::error_code error;
  const std::filesystem::path executable = std::filesystem::read_symlink("/proc/self/exe", error);
  if (relative.empty() || error || !executable.is_absolute()) {
    return build::k_plugin_dir;
  }
  return (executable.parent_path() / relative).lexically_normal().string();
}

} // namespace pgtq::app
