#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <variant>

namespace pgtq::plugin {

// What one call into plugin code gave: its return value, or, when an exception escaped
// instead, what escaped ("init() let an exception escape: <what()>").
template <class T> struct PluginCallResult {
  std::optional<T> value;
  std::string escaped;

  explicit operator bool() const noexcept { return value.has_value(); }
};

namespace detail {

// Called from a catch (...) handler: logs what is being handled, naming the plugin and the
// function, and returns the message without the plugin's name.
std::string report_escape(const std::string& plugin, std::string_view function) noexcept;

} // namespace detail

// The one way pgtqd calls plugin code: pgtq_plugin_entry(), init(), each handle(), destroy()
// and fini(). plugin.h forbids exceptions across the boundary, but a C++ plugin without
// plugin.hpp may let one out; it is caught here, logged with plugin (its file name, or
// "name (file)") and function ("init()"), and returned as escaped, so that each caller
// decides what a failed call means (plugin.h lists it) and none is left unguarded.
// Unwinding cannot run the cleanups of C frames it crossed; the plugin may leak or hold a
// lock after this, which is why the ABI forbids it rather than relying on this.
template <class Call>
auto call_plugin(const std::string& plugin, std::string_view function, Call&& call) noexcept {
  using Returned = std::invoke_result_t<Call&>;
  using Value = std::conditional_t<std::is_void_v<Returned>, std::monostate, Returned>;
  PluginCallResult<Value> result;
  try {
    if constexpr (std::is_void_v<Returned>) {
      call();
      result.value.emplace();
    } else {
      result.value.emplace(call());
    }
  } catch (...) {
    result.escaped = detail::report_escape(plugin, function);
  }
  return result;
}

} // namespace pgtq::plugin
