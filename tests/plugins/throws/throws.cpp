// C++ handlers that throw what a careless plugin would. plugin.hpp's barrier must turn each
// into PGTQ_RETRY with an error message; nothing may reach pgtqd.
//   throw_runtime  -> retry, error "boom"
//   throw_int      -> retry, error "unknown exception (not derived from std::exception)"
#include <pgtq/plugin.hpp>

#include <stdexcept>

namespace {

void throw_runtime() {
  throw std::runtime_error("boom");
}

void throw_int() {
  throw 42;
}

} // namespace

PGTQ_PLUGIN("throws", "0", [](pgtq::Registry& r) {
  PGTQ_HANDLER(r, throw_runtime);
  PGTQ_HANDLER(r, throw_int);
});
