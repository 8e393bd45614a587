// The heap object behind each registered handler (its pgtq_handler.user_data) and the
// extern "C"-callable functions pgtqd calls through. Everything that could throw runs
// inside guarded(), the exception barrier.
#ifndef PGTQ_DETAIL_HANDLER_BOX_HPP
#define PGTQ_DETAIL_HANDLER_BOX_HPP

#include "pgtq/detail/args_document.hpp"
#include "pgtq/detail/context.hpp"
#include "pgtq/detail/errors.hpp"
#include "pgtq/detail/json_decode.hpp"
#include "pgtq/detail/json_encode.hpp"
#include "pgtq/detail/json_types.hpp"
#include "pgtq/detail/signature.hpp"
#include "pgtq/plugin.h"

#include <rapidjson/document.h>

#include <array>
#include <cstddef>
#include <exception>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

namespace pgtq::detail {

inline void set_error(const Context& context, std::string_view message) noexcept {
  const pgtq_host_api& api = context.api();
  if (PGTQ_HOST_HAS(&api, task_set_error)) {
    api.task_set_error(context.task(), message.data(), message.size());
  }
}

// Maps the outcome of body() (or what it threw) onto a status. pgtqd logs and stores the
// error, so nothing is logged here.
template <class Body> pgtq_status guarded(Context& context, Body&& body) noexcept {
  try {
    try {
      std::forward<Body>(body)();
      return PGTQ_DONE;
    } catch (const Retry& retry) {
      set_error(context, retry.what());
      if (retry.has_delay()) {
        context.set_retry_delay(retry.delay_s());
      }
      return PGTQ_RETRY;
    } catch (const Snooze& snooze) {
      context.set_retry_delay(snooze.seconds());
      return PGTQ_SNOOZE;
    } catch (const PermanentError& error) {
      set_error(context, error.what());
      return PGTQ_FAIL;
    } catch (const std::exception& error) {
      // Unknown failures are assumed transient: the attempt limit still bounds them.
      const std::string_view what = error.what();
      set_error(context, what.empty() ? std::string_view("exception without a message") : what);
      return PGTQ_RETRY;
    } catch (...) {
      set_error(context, "unknown exception (not derived from std::exception)");
      return PGTQ_RETRY;
    }
  } catch (...) {
    // Only reachable if reporting itself threw; the status still has to get out.
    return PGTQ_RETRY;
  }
}

// The type-independent part of a handler, filled in at registration.
struct BoxHeader {
  std::string name;
  std::vector<std::string> param_names; // empty: positional args only
  std::size_t arity = 0;                // parameters fed from args
  std::size_t required = 0;             // leading parameters that are not std::optional
  bool takes_args = false;              // the single pgtq::Args parameter
  bool strict_args = false;             // refuse object args with keys that name no parameter
  const pgtq_host_api* api = nullptr;
  pgtq_host* host = nullptr;

  std::string arg_label(std::size_t index) const {
    std::string label = "argument " + std::to_string(index + 1);
    if (index < param_names.size()) {
      label += " (\"" + param_names[index] + "\")";
    }
    return label;
  }

  [[noreturn]] void reject(const std::string& message) const {
    throw PermanentError(name + ": " + message);
  }

  // Fills slots[i] with the value for parameter i, or nullptr when absent. An object key
  // that names no parameter is skipped, so that producers may add optional fields before
  // the workers know them; strict_args refuses it instead.
  void resolve(const rapidjson::Value& args,
               const ArgsDocument& document,
               const rapidjson::Value** slots) const {
    if (args.IsNull()) {
      check_count(0);
    } else if (args.IsArray()) {
      check_count(args.Size());
      for (rapidjson::SizeType i = 0; i < args.Size(); ++i) {
        slots[i] = &args[i];
      }
    } else if (args.IsObject()) {
      if (arity > 0 && param_names.empty()) {
        reject("args must be an array (no parameter names were registered), got object");
      }
      for (auto member = args.MemberBegin(); member != args.MemberEnd(); ++member) {
        const std::string_view key(member->name.GetString(), member->name.GetStringLength());
        std::size_t index = 0;
        while (index < param_names.size() && param_names[index] != key) {
          ++index;
        }
        if (index == param_names.size()) {
          if (strict_args) {
            reject("unexpected argument " + to_json_text(member->name) + " (" + expected_names() +
                   ")");
          }
          continue;
        }
        slots[index] = &member->value;
      }
    } else {
      reject("args must be a JSON array or object, got " + describe(args, document));
    }
  }

private:
  void check_count(std::size_t given) const {
    if (given >= required && given <= arity) {
      return;
    }
    std::string expected = std::to_string(required);
    if (required != arity) {
      expected += " to " + std::to_string(arity);
    }
    reject("expected " + expected + (arity == 1 ? " argument" : " arguments") + ", got " +
           std::to_string(given));
  }

  std::string expected_names() const {
    if (param_names.empty()) {
      return "takes no arguments";
    }
    std::string list = "expected";
    for (std::size_t i = 0; i < param_names.size(); ++i) {
      list += (i == 0 ? " \"" : ", \"") + param_names[i] + "\"";
    }
    return list;
  }
};

template <class List> struct Binder;

template <class... A> struct Binder<type_list<A...>> {
  static_assert((check_value_param<A>() && ...));

  static constexpr std::size_t arity = sizeof...(A);
  static constexpr bool takes_args = ((std::is_same_v<param_t<A>, Args>) || ...);
  static_assert(!takes_args || arity == 1,
                "pgtq: pgtq::Args takes all of the args, so it must be the only parameter "
                "besides pgtq::Context&");
  static constexpr std::size_t required = [] {
    constexpr bool optional[] = {is_optional_v<param_t<A>>..., false};
    std::size_t count = 0;
    for (std::size_t i = 0; i < arity; ++i) {
      if (!optional[i]) {
        count = i + 1;
      }
    }
    return count;
  }();

  using Stored = std::tuple<stored_t<A>...>;

  static Stored bind(const ArgsDocument& document, std::string_view text, const BoxHeader& header) {
    const rapidjson::Value& args = document.root();
    if constexpr (takes_args) {
      if (!args.IsArray() && !args.IsObject()) {
        header.reject("args must be a JSON array or object, got " + describe(args, document));
      }
      return Stored{Args(text, args)};
    } else {
      std::array<const rapidjson::Value*, arity> slots{};
      header.resolve(args, document, slots.data());
      return bind_each(slots, document, header, std::index_sequence_for<A...>{});
    }
  }

private:
  template <std::size_t... I>
  static Stored bind_each(const std::array<const rapidjson::Value*, arity>& slots,
                          const ArgsDocument& document,
                          const BoxHeader& header,
                          std::index_sequence<I...>) {
    // Braced initialisation runs left to right, so the first bad argument is the one reported.
    return Stored{bind_one<A>(slots[I], I, document, header)...};
  }

  template <class P>
  static stored_t<P> bind_one(const rapidjson::Value* slot,
                              std::size_t index,
                              const ArgsDocument& document,
                              const BoxHeader& header) {
    using T = param_t<P>;
    if (slot == nullptr) {
      if constexpr (is_optional_v<T>) {
        return T{};
      } else {
        header.reject("missing " + header.arg_label(index));
      }
    }
    try {
      if constexpr (std::is_same_v<T, rapidjson::Value>) {
        // The value itself is handed over, so a number it holds other than as written
        // could not be noticed later.
        document.require_exact(*slot);
        return slot;
      } else {
        return decode<T>(*slot, document);
      }
    } catch (const DecodeError& error) {
      header.reject(header.arg_label(index) + (error.path().empty() ? "" : " at " + error.path()) +
                    ": " + error.what());
    }
  }
};

template <class F> struct HandlerBox : BoxHeader {
  using Signature = signature_of<F>;
  using Split = split_context<typename Signature::params>;
  using Bind = Binder<typename Split::values>;
  using Result = typename Signature::result;

  explicit HandlerBox(F function) : fn(std::move(function)) {
    arity = Bind::arity;
    required = Bind::required;
    takes_args = Bind::takes_args;
  }

  F fn;

  static pgtq_status handle(void* user_data, pgtq_task* task) noexcept {
    try {
      const auto& box = *static_cast<const HandlerBox*>(user_data);
      Context context(*box.api, box.host, task);
      return guarded(context, [&] { box.run(context); });
    } catch (...) {
      return PGTQ_RETRY;
    }
  }

  static void destroy(void* user_data) noexcept {
    try {
      delete static_cast<HandlerBox*>(user_data);
    } catch (...) {
      // A throwing destructor in user code; nothing sensible is left to do.
    }
  }

private:
  void run(Context& context) const {
    const std::string_view text = context.args();
    ArgsDocument args;
    if (const std::optional<std::string> error = args.parse(text)) {
      reject("args are not valid JSON: " + *error);
    }
    auto values = Bind::bind(args, text, *this);
    if constexpr (std::is_void_v<Result>) {
      call(context, std::move(values));
    } else {
      decltype(auto) result = call(context, std::move(values));
      const std::string json = encode_result<std::remove_cvref_t<Result>>(result);
      // -1 means pgtqd found the text unfit for jsonb; it fails the task itself, saying why.
      if (PGTQ_HOST_HAS(api, task_set_result)) {
        api->task_set_result(context.task(), json.data(), json.size());
      }
    }
  }

  template <class Stored> decltype(auto) call(Context& context, Stored&& values) const {
    return call_with(context,
                     std::forward<Stored>(values),
                     typename Split::values{},
                     std::make_index_sequence<Bind::arity>{});
  }

  template <class Stored, class... A, std::size_t... I>
  decltype(auto)
  call_with(Context& context, Stored&& values, type_list<A...>, std::index_sequence<I...>) const {
    if constexpr (Split::has_context) {
      return std::invoke(fn, context, unwrap<A>(std::get<I>(std::forward<Stored>(values)))...);
    } else {
      (void)context;
      return std::invoke(fn, unwrap<A>(std::get<I>(std::forward<Stored>(values)))...);
    }
  }
};

} // namespace pgtq::detail

#endif
