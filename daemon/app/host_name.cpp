#include "app/host_name.hpp"

#include <unistd.h>

namespace pgtq::app {

std::string host_name() {
  char host[256] = "localhost";
  ::gethostname(host, sizeof host - 1);
  host[sizeof host - 1] = '\0'; // a name that filled the buffer is not terminated
  return host;
}

} // namespace pgtq::app
