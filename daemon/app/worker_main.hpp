#pragma once

namespace pgtq::app {

// The first argument that makes pgtqd a worker process (isolation = process): pgtqd starts
// its workers as `pgtqd --worker-process` (queue/worker_process.hpp), never by hand.
inline constexpr const char* k_worker_process_flag = "--worker-process";

// main() of a worker process: reads its Hello from descriptor 3 (the socket to pgtqd), names
// itself in ps ("pgtqd: worker 3 (queue emails)"), applies worker-memory-limit, ignores the
// stop signals (pgtqd decides when its workers end), loads the plugins from pgtqd's private
// copies, says Ready and serves tasks (queue/worker_service.hpp) until pgtqd closes the
// socket. Returns the exit status: 0, 1 for a broken channel, 78 when the plugins do not
// load (pgtqd logs the reason it was sent).
int worker_main(int argc, char** argv);

} // namespace pgtq::app
