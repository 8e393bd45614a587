// C++ layer over the pgtq plugin ABI (plugin.h). Header-only; needs C++20 and RapidJSON.
//
// A handler is an ordinary typed function. Its JSON args (an array: by position; an object:
// by the parameter names given at registration) are converted to its parameter types and
// its return value becomes the task's JSON result:
//
//   int add_numbers(int a, int b) { return a + b; }
//   std::string greet(const std::string& name, std::optional<std::string> greeting) {...}
//
//   PGTQ_PLUGIN("math", "1.0", [](pgtq::Registry& r) {
//     PGTQ_HANDLER(r, add_numbers);                       // [2, 3] -> 5
//     r.add("greet", greet, {"name", "greeting"});        // also {"name": "Ada"}
//     r.add("strict_greet", greet, {"name", "greeting"}).strict_args();
//     r.add("flaky", flaky).backoff(0.1, 2, 5);
//     r.add("report", report).timeout(30);               // should_stop() after 30 s
//   });
//
// Object args: a key that names no parameter is ignored, so a producer may add an optional
// field before every worker knows it (as serde, encoding/json and Jackson do by default);
// .strict_args() makes such a key a permanent error instead. Array args are matched by
// position, and an array longer than the parameter list is an error in either mode.
//
// Parameters: bool, integers, float/double, std::string, std::string_view (valid until the
// handler returns), std::vector<T>, std::optional<T> (absent or null -> nullopt; trailing
// optionals may be left out of an array), std::map/unordered_map<std::string, T>, pgtq::Json
// (one argument as JSON text, numbers exactly as written), const rapidjson::Value& (borrowed),
// or a single pgtq::Args (all args, unchecked; text() is the args byte for byte).
// An optional first parameter pgtq::Context& gives the task id, attempt, name, should_stop(),
// logging and set_retry_delay().
// Numbers never change silently on their way in; what does not fit is a permanent error naming
// the argument (e.g. `h: argument 1 ("n"): number 1e400 is out of range for double`; args
// pass through jsonb, which writes 1e400 as 1 and 400 zeros, so messages show that form):
//   integers   the exact value, in any notation (2, 2.0, 2e0); not 2.5, not out of the type's
//              range (3e9 for int32_t, 18446744073709551616 for int64_t or uint64_t);
//   float, double  the nearest value, as any JSON reader gives; not beyond the type's range
//              (1e400), not a non-zero number that would become 0 (1e-400), and not an integer
//              written with digits only that the type cannot hold exactly (9007199254740993,
//              2^53 + 1, for double; 16777217 for float). -0 stays -0;
//   pgtq::Json, pgtq::Args::text()  numbers as written, whatever their size;
//   const rapidjson::Value&  RapidJSON's types: 64-bit integers, else doubles; a number these
//              cannot hold (as for double above) is an error; take pgtq::Json for such data.
//              pgtq::Args::json() holds such a number as +-infinity or 0 (read text() instead).
// Results: void (null), the same types, const char*, rapidjson::Value/Document. A NaN or
// infinite result fails the task permanently (JSON has no such numbers).
//
// Outcomes: returning -> PGTQ_DONE; throw pgtq::Retry{"why"} or pgtq::Retry{"why", seconds}
// -> PGTQ_RETRY; pgtq::PermanentError{"why"} or args that do not fit the parameters ->
// PGTQ_FAIL; pgtq::Snooze{seconds} -> PGTQ_SNOOZE; any other exception -> PGTQ_RETRY with
// its message. The delays of Retry, Snooze and Context::set_retry_delay are clamped to
// [0, pgtq::k_max_delay_s], 100 years (NaN and negative mean at once); backoff() lowers base
// and cap above it to it and refuses NaN. No exception
// leaves the plugin: init, handle, destroy and fini are all guarded. Handlers may run on
// several threads at once and are called through a const reference, so a lambda cannot be
// `mutable`; guard shared state yourself.
//
// Setup runs inside the plugin's init(): throw from it to refuse to load. Handlers are
// handed to pgtqd only after setup returns, so a failed setup registers nothing; if pgtqd
// refuses a handler (e.g. a name another plugin already has), the whole plugin fails to load.
#ifndef PGTQ_PLUGIN_HPP
#define PGTQ_PLUGIN_HPP

#include "pgtq/detail/context.hpp"
#include "pgtq/detail/errors.hpp"
#include "pgtq/detail/handler_box.hpp"
#include "pgtq/detail/json_types.hpp"
#include "pgtq/detail/names.hpp"
#include "pgtq/detail/signature.hpp"
#include "pgtq/plugin.h"

#include <algorithm>
#include <cstddef>
#include <functional>
#include <initializer_list>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>
#include <vector>

namespace pgtq {

// Retry backoff for one task name: delay = base_s * factor^(attempt-1), capped at cap_s and
// at k_max_delay_s. A field <= 0 keeps pgtqd's setting; NaN is refused at registration.
struct Backoff {
  double base_s = 0;
  double factor = 0;
  double cap_s = 0;
};

// A default periodic task the plugin ships (plugin.h's pgtq_schedule, ABI 1.2; README
// "Periodic tasks"); see Registry::schedule. (The client's pgtq::Schedule is what an
// operator sets; this is what a plugin proposes.)
struct DefaultSchedule {
  std::string queue; // named, so that every pgtqd loading the plugin registers the same one
  std::string task;
  std::string args = "[]"; // JSON array or object
  std::string cron;        // five fields, or six with seconds first; empty: every_s
  double every_s = 0;      // a fixed interval, 1 s .. 100 years, instead of cron
  std::string time_zone = "UTC";
  std::string catch_up = "latest"; // fire times missed while no pgtqd ran: latest, all, none
};

namespace detail {

// Owns a handler box until pgtqd accepts it.
struct PendingHandler {
  BoxHeader* header = nullptr;
  void* user_data = nullptr;
  void (*destroy)(void*) noexcept = nullptr;
  pgtq_status (*handle)(void*, pgtq_task*) noexcept = nullptr;
  Backoff backoff;
  double timeout_s = 0;

  PendingHandler() = default;
  PendingHandler(const PendingHandler&) = delete;
  PendingHandler& operator=(const PendingHandler&) = delete;
  ~PendingHandler() {
    if (user_data != nullptr) {
      destroy(user_data);
    }
  }
};

} // namespace detail

// Returned by Registry::add to adjust the handler just added.
class HandlerRef {
public:
  explicit HandlerRef(detail::PendingHandler& pending) noexcept : m_pending(&pending) {}

  // Lets object args name the parameters (after pgtq::Context&), in order.
  HandlerRef& names(std::initializer_list<std::string_view> names) {
    detail::BoxHeader& header = *m_pending->header;
    if (header.takes_args) {
      throw std::invalid_argument("handler \"" + header.name +
                                  "\" takes pgtq::Args, which has no parameter names");
    }
    if (names.size() != header.arity) {
      throw std::invalid_argument("handler \"" + header.name + "\" has " +
                                  std::to_string(header.arity) + " parameters but " +
                                  std::to_string(names.size()) + " names were given");
    }
    std::vector<std::string> checked;
    for (const std::string_view name : names) {
      for (const std::string& seen : checked) {
        if (seen == name) {
          throw std::invalid_argument("handler \"" + header.name +
                                      "\": parameter names must be distinct and non-empty");
        }
      }
      if (name.empty()) {
        throw std::invalid_argument("handler \"" + header.name +
                                    "\": parameter names must be distinct and non-empty");
      }
      checked.emplace_back(name);
    }
    header.param_names = std::move(checked);
    return *this;
  }

  // Object args with a key that names no parameter fail permanently ("unexpected argument")
  // instead of the key being ignored. For handlers whose every caller is upgraded with them.
  HandlerRef& strict_args() {
    detail::BoxHeader& header = *m_pending->header;
    if (header.takes_args) {
      throw std::invalid_argument(
          "handler \"" + header.name +
          "\" takes pgtq::Args, which has no parameters to be strict about");
    }
    header.strict_args = true;
    return *this;
  }

  // base_s and cap_s above k_max_delay_s (infinity included) are lowered to it; NaN in any
  // field throws std::invalid_argument, which fails the plugin's setup.
  HandlerRef& backoff(const Backoff& backoff) {
    const auto check = [&](double value, const char* field) {
      if (value != value) {
        throw std::invalid_argument("handler \"" + m_pending->header->name + "\": backoff " +
                                    field + " is NaN");
      }
    };
    check(backoff.base_s, "base_s");
    check(backoff.factor, "factor");
    check(backoff.cap_s, "cap_s");
    m_pending->backoff = backoff;
    m_pending->backoff.base_s = std::min(backoff.base_s, k_max_delay_s);
    m_pending->backoff.cap_s = std::min(backoff.cap_s, k_max_delay_s);
    return *this;
  }
  HandlerRef& backoff(double base_s, double factor, double cap_s) {
    return backoff(Backoff{base_s, factor, cap_s});
  }

  // How long one attempt may run, in seconds (plugin.h's pgtq_handler::timeout_s): at the
  // deadline Context::should_stop() turns true, and with isolation = process the worker is
  // killed after pgtqd's timeout-grace. 0 keeps pgtqd's task-timeout. A timeout given at push
  // replaces this one for that task, even when longer. Negative, NaN or infinite values throw
  // std::invalid_argument, which fails the plugin's setup.
  HandlerRef& timeout(double seconds) {
    if (!(seconds >= 0) || seconds > k_max_delay_s) {
      throw std::invalid_argument("handler \"" + m_pending->header->name +
                                  "\": timeout must be 0 or a finite number of seconds");
    }
    m_pending->timeout_s = seconds;
    return *this;
  }

private:
  detail::PendingHandler* m_pending;
};

// Handed to the plugin's setup function during init().
class Registry {
public:
  Registry(const pgtq_host_api& api, pgtq_host* host, std::string_view config) noexcept
      : m_api(&api), m_host(host), m_config(config) {}

  // Registers fn under name. fn is copied or moved into a heap object that pgtqd owns until
  // it unloads the plugin.
  template <class F>
  HandlerRef
  add(std::string_view name, F&& fn, std::initializer_list<std::string_view> names = {}) {
    using Fn = std::decay_t<F>;
    static_assert(detail::has_signature<Fn>,
                  "pgtq: cannot read the handler's parameter types; generic lambdas, templates "
                  "and overload sets need a concrete signature");
    static_assert(detail::signature_of<Fn>::const_call,
                  "pgtq: a handler may run on several threads at once and is called through a "
                  "const reference; drop `mutable` and guard shared state yourself");
    if (!detail::is_valid_name(name)) {
      throw std::invalid_argument("task name \"" + std::string(name) +
                                  "\" is not 1-128 characters from [A-Za-z0-9_.:-]");
    }
    for (const auto& pending : m_pending) {
      if (pending->header->name == name) {
        throw std::invalid_argument("task name \"" + std::string(name) + "\" added twice");
      }
    }
    auto box = std::make_unique<detail::HandlerBox<Fn>>(std::forward<F>(fn));
    box->name = name;
    box->api = m_api;
    box->host = m_host;
    auto pending = std::make_unique<detail::PendingHandler>();
    pending->header = box.get();
    pending->handle = &detail::HandlerBox<Fn>::handle;
    pending->destroy = &detail::HandlerBox<Fn>::destroy;
    pending->user_data = box.release();
    m_pending.push_back(std::move(pending));
    HandlerRef ref(*m_pending.back());
    if (names.size() != 0) {
      ref.names(names);
    }
    return ref;
  }

  // Ships schedule name as a default periodic task: pgtqd creates it in pgtq.schedules when
  // it loads the plugin, and updates it while no operator has changed or deleted it (an
  // operator's version always wins). Handed over at commit(); a pgtqd older than ABI 1.2
  // cannot take it (logged), and one the database refuses is logged by pgtqd: neither stops
  // the plugin's handlers.
  void schedule(std::string_view name, DefaultSchedule schedule) {
    m_schedules.emplace_back(std::string(name), std::move(schedule));
  }

  // Runs in fini(), after pgtqd destroyed every handler; last added runs first.
  void on_unload(std::function<void()> hook) { m_unload_hooks.push_back(std::move(hook)); }

  // The plugin's config entry; BORROWED, valid during setup.
  std::string_view config() const noexcept { return m_config; }
  void log(LogLevel level, std::string_view message) const noexcept {
    detail::host_log(*m_api, m_host, level, message);
  }
  const pgtq_host_api& api() const noexcept { return *m_api; }
  pgtq_host* host() const noexcept { return m_host; }

  // Hands every handler to pgtqd; throws when it refuses one. Called by the plugin's init().
  void commit() {
    for (const auto& pending : m_pending) {
      pgtq_handler table{};
      table.struct_size = sizeof(pgtq_handler);
      table.name = pending->header->name.c_str();
      table.user_data = pending->user_data;
      table.handle = pending->handle;
      table.destroy = pending->destroy;
      table.backoff_base_s = pending->backoff.base_s;
      table.backoff_factor = pending->backoff.factor;
      table.backoff_cap_s = pending->backoff.cap_s;
      table.timeout_s = pending->timeout_s;
      // The name's storage lives in the box; keep a copy for the message in case of refusal.
      const std::string name = pending->header->name;
      if (m_api->register_handler(m_host, &table) != 0) {
        throw std::runtime_error("pgtqd refused handler \"" + name + "\"");
      }
      pending->user_data = nullptr; // pgtqd owns it now and calls destroy
    }
    m_pending.clear();
    for (const auto& [name, schedule] : m_schedules) {
      if (!PGTQ_HOST_HAS(m_api, register_schedule)) {
        log(LogLevel::warn,
            "this pgtqd predates ABI 1.2: schedule \"" + name + "\" is not registered");
        continue;
      }
      pgtq_schedule table{};
      table.struct_size = sizeof(pgtq_schedule);
      table.name = name.c_str();
      table.queue = schedule.queue.c_str();
      table.task = schedule.task.c_str();
      table.args = schedule.args.c_str();
      table.cron = schedule.cron.empty() ? nullptr : schedule.cron.c_str();
      table.every_s = schedule.every_s;
      table.time_zone = schedule.time_zone.c_str();
      table.catch_up = schedule.catch_up.c_str();
      m_api->register_schedule(m_host, &table); // a refusal is pgtqd's to log
    }
    m_schedules.clear();
  }

  std::vector<std::function<void()>> take_unload_hooks() noexcept {
    return std::move(m_unload_hooks);
  }

private:
  const pgtq_host_api* m_api;
  pgtq_host* m_host;
  std::string_view m_config;
  std::vector<std::unique_ptr<detail::PendingHandler>> m_pending;
  std::vector<std::pair<std::string, DefaultSchedule>> m_schedules;
  std::vector<std::function<void()>> m_unload_hooks;
};

namespace detail {

// One per plugin (made by PGTQ_PLUGIN); constant-initialised, so it needs no constructor to
// run before init().
struct PluginState {
  std::vector<std::function<void()>>* unload_hooks = nullptr;
  const pgtq_host_api* api = nullptr;
  pgtq_host* host = nullptr;
};

inline void log_noexcept(const pgtq_host_api& api,
                         pgtq_host* host,
                         LogLevel level,
                         const char* prefix,
                         const char* message) noexcept {
  try {
    host_log(api, host, level, std::string(prefix) + message);
  } catch (...) {
    host_log(api, host, level, prefix);
  }
}

template <class Setup>
int init_plugin(PluginState& state,
                const pgtq_host_api* api,
                pgtq_host* host,
                const char* config,
                std::size_t config_len,
                Setup&& setup) noexcept {
  if (api == nullptr || api->struct_size < PGTQ_SIZE_THROUGH(pgtq_host_api, register_handler)) {
    return 1;
  }
  // Every member since 1.0 is used without asking PGTQ_HOST_HAS, so all must be there.
  if (api->abi_major != PGTQ_ABI_MAJOR || api->struct_size < PGTQ_HOST_API_SIZE_1_0) {
    host_log(*api, host, LogLevel::error, "host speaks another plugin ABI; not loading");
    return 1;
  }
  try {
    Registry registry(*api, host, config != nullptr ? std::string_view(config, config_len) : "");
    std::forward<Setup>(setup)(registry);
    auto hooks = std::make_unique<std::vector<std::function<void()>>>(registry.take_unload_hooks());
    registry.commit();
    delete state.unload_hooks;
    state.unload_hooks = hooks.release();
    state.api = api;
    state.host = host;
    return 0;
  } catch (const std::exception& error) {
    log_noexcept(*api, host, LogLevel::error, "plugin setup failed: ", error.what());
  } catch (...) {
    log_noexcept(*api, host, LogLevel::error, "plugin setup failed: ", "unknown exception");
  }
  return 1;
}

inline void fini_plugin(PluginState& state) noexcept {
  if (state.unload_hooks == nullptr) {
    return;
  }
  for (auto hook = state.unload_hooks->rbegin(); hook != state.unload_hooks->rend(); ++hook) {
    try {
      (*hook)();
    } catch (const std::exception& error) {
      log_noexcept(*state.api, state.host, LogLevel::error, "unload hook failed: ", error.what());
    } catch (...) {
      log_noexcept(
          *state.api, state.host, LogLevel::error, "unload hook failed: ", "unknown exception");
    }
  }
  delete state.unload_hooks;
  state = PluginState{};
}

} // namespace detail
} // namespace pgtq

// Defines the plugin's one exported symbol, pgtq_plugin_entry(), with plugin.h's
// PGTQ_PLUGIN_INFO. Use once per plugin, at global scope: PGTQ_PLUGIN("name", "version",
// setup); where setup is callable as void(pgtq::Registry&). name and version must be string
// literals (pgtqd keeps the pointers).
#define PGTQ_PLUGIN(plugin_name, plugin_version, ...)                                              \
  namespace {                                                                                      \
  constinit ::pgtq::detail::PluginState pgtq_detail_plugin_state{};                                \
  int pgtq_detail_plugin_init(const pgtq_host_api* api,                                            \
                              pgtq_host* host,                                                     \
                              const char* config,                                                  \
                              size_t config_len) noexcept {                                        \
    return ::pgtq::detail::init_plugin(                                                            \
        pgtq_detail_plugin_state, api, host, config, config_len, __VA_ARGS__);                     \
  }                                                                                                \
  void pgtq_detail_plugin_fini(void) noexcept {                                                    \
    ::pgtq::detail::fini_plugin(pgtq_detail_plugin_state);                                         \
  }                                                                                                \
  }                                                                                                \
  PGTQ_PLUGIN_INFO(plugin_name, plugin_version, &pgtq_detail_plugin_init, &pgtq_detail_plugin_fini)

// Registers a function under its own name: PGTQ_HANDLER(r, add_numbers) or, with parameter
// names, PGTQ_HANDLER(r, greet, {"name", "greeting"}).
#define PGTQ_HANDLER(registry, function, ...)                                                      \
  (registry).add(#function, function __VA_OPT__(, ) __VA_ARGS__)

#endif
