#pragma once

#include <string>

namespace pgtq::app {

// This machine's host name (gethostname), "localhost" if it has none: the default worker
// name's first part and the registry's host column.
std::string host_name();

} // namespace pgtq::app
