#include "plugin/plugin_call.hpp"

#include <spdlog/spdlog.h>

#include <exception>

namespace pgtq::plugin::detail {

std::string report_escape(const std::string& plugin, std::string_view function) noexcept {
  try {
    std::string what;
    try {
      throw;
    } catch (const std::exception& error) {
      what = error.what();
    } catch (...) {
      what = "an exception not derived from std::exception";
    }
    std::string message = std::string(function) + " let an exception escape: " + what;
    auto logger = spdlog::get("plugin");
    (logger ? logger : spdlog::default_logger())->error("plugin \"{}\": {}", plugin, message);
    return message;
  } catch (...) {
    // Out of memory while reporting: the caller still learns that the call failed.
    return {};
  }
}

} // namespace pgtq::plugin::detail
