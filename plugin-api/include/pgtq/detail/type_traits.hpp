// Compile-time classification of handler parameter and result types.
#ifndef PGTQ_DETAIL_TYPE_TRAITS_HPP
#define PGTQ_DETAIL_TYPE_TRAITS_HPP

#include <concepts>
#include <optional>
#include <type_traits>

namespace pgtq::detail {

template <class> inline constexpr bool dependent_false = false;

// Character types are not integers to a task author: a JSON 65 arriving as 'A' would
// surprise, so they are left unsupported rather than guessed.
template <class T>
concept json_integer = std::integral<T> && !std::same_as<T, bool> && !std::same_as<T, char> &&
                       !std::same_as<T, wchar_t> && !std::same_as<T, char8_t> &&
                       !std::same_as<T, char16_t> && !std::same_as<T, char32_t>;

template <class T> inline constexpr bool is_optional_v = false;
template <class T> inline constexpr bool is_optional_v<std::optional<T>> = true;

} // namespace pgtq::detail

#endif
