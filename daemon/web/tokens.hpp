#pragma once

#include <string>
#include <string_view>

namespace pgtq::web {

// 32 random bytes from the kernel (getrandom), as 64 hexadecimal digits: session and CSRF
// tokens. Throws std::runtime_error when the kernel gives none (never falls back to a
// weaker source).
std::string random_token();

// Whether a and b are equal, in a time that depends on their lengths only, not on where
// they differ: for passwords and tokens, so that timing tells an attacker nothing about a
// guess's correct prefix.
bool constant_time_equal(std::string_view a, std::string_view b);

} // namespace pgtq::web
