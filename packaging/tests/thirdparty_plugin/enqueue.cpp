// Links pgtq::client: its headers and libpq must come with the target.
#include <libpq-fe.h>
#if __has_include(<pgtq/client.hpp>)
#include <pgtq/client.hpp>
#endif

int main() {
  return PQlibVersion() > 0 ? 0 : 1;
}
