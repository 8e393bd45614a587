#pragma once

#include <string>
#include <string_view>

namespace pgtq::web {

// 32 random bytes from the kernel (getrandom), as 64 hexadecimal digits: session and CSRF
// tokens. Throws std::runtime_error when the kernel gives none (never falls back to a
// weaker source).
std::string random_token();

// Whether given equals secret, in a time that depends on given's length only: not on the
// secret's length, nor on where they differ. For passwords and tokens, so that timing tells
// an attacker nothing about a guess's correct prefix or the secret's length.
bool constant_time_equal(std::string_view secret, std::string_view given);

} // namespace pgtq::web
