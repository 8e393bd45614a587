#pragma once

#include <string>

namespace pgtq::app {

// Where pgtqd loads plugins from unless told otherwise: LIBDIR/pgtq/plugins of the
// installation this pgtqd belongs to, found from the executable's own location
// (/proc/self/exe), so that "cmake --install build --prefix P" gives a pgtqd that looks in
// P/lib/pgtq/plugins whatever prefix the build was configured with. Falls back to the
// configure-time path when the layout is not relative or /proc is not mounted.
std::string default_plugin_dir();

} // namespace pgtq::app
