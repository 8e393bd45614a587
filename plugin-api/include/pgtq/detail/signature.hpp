// Reads a handler's parameter and result types off a function, lambda or functor, and
// checks them once at compile time so mistakes surface as one readable static_assert.
#ifndef PGTQ_DETAIL_SIGNATURE_HPP
#define PGTQ_DETAIL_SIGNATURE_HPP

#include "pgtq/detail/context.hpp"
#include "pgtq/detail/json_types.hpp"
#include "pgtq/detail/type_traits.hpp"

#include <rapidjson/document.h>

#include <cstddef>
#include <type_traits>

namespace pgtq::detail {

template <class... T> struct type_list {};

template <class F> struct signature_of;

template <class R, class... A> struct signature_of<R (*)(A...)> {
  using result = R;
  using params = type_list<A...>;
  static constexpr bool const_call = true;
};
template <class R, class... A>
struct signature_of<R (*)(A...) noexcept> : signature_of<R (*)(A...)> {};

template <class R, class C, class... A>
struct signature_of<R (C::*)(A...) const> : signature_of<R (*)(A...)> {};
template <class R, class C, class... A>
struct signature_of<R (C::*)(A...) const noexcept> : signature_of<R (*)(A...)> {};

template <class R, class C, class... A>
struct signature_of<R (C::*)(A...)> : signature_of<R (*)(A...)> {
  static constexpr bool const_call = false;
};
template <class R, class C, class... A>
struct signature_of<R (C::*)(A...) noexcept> : signature_of<R (C::*)(A...)> {};

template <class F>
requires requires {
  &F::operator();
}
struct signature_of<F> : signature_of<decltype(&F::operator())> {};

template <class F>
concept has_signature = requires {
  typename signature_of<F>::params;
};

template <class A> using param_t = std::remove_cvref_t<A>;

template <class A> inline constexpr bool is_context_param = std::is_same_v<param_t<A>, Context>;

// Splits off an optional leading pgtq::Context&; what remains comes from the task's args.
template <class List> struct split_context {
  static constexpr bool has_context = false;
  using values = List;
};
template <class A0, class... A>
requires is_context_param<A0>
struct split_context<type_list<A0, A...>> {
  static_assert(std::is_lvalue_reference_v<A0>, "pgtq: take pgtq::Context by reference");
  static constexpr bool has_context = true;
  using values = type_list<A...>;
};

template <class A> consteval bool check_value_param() {
  using T = param_t<A>;
  static_assert(!is_context_param<A>, "pgtq: pgtq::Context& must be the handler's first parameter");
  static_assert(!std::is_lvalue_reference_v<A> || std::is_const_v<std::remove_reference_t<A>>,
                "pgtq: take handler arguments by value or by const reference");
  static_assert(!std::is_same_v<T, rapidjson::Value> || std::is_reference_v<A>,
                "pgtq: take a raw argument as const rapidjson::Value&");
  return true;
}

// A parameter's storage between decoding and the call: raw values stay in the parsed
// document and are passed by pointer.
template <class A>
using stored_t = std::conditional_t<std::is_same_v<param_t<A>, rapidjson::Value>,
                                    const rapidjson::Value*,
                                    param_t<A>>;

template <class A, class S> decltype(auto) unwrap(S&& stored) {
  if constexpr (std::is_same_v<param_t<A>, rapidjson::Value>) {
    return *stored;
  } else {
    return std::forward<S>(stored);
  }
}

} // namespace pgtq::detail

#endif
