#pragma once

#include "queue/stop_page.hpp"
#include "queue/task_executor.hpp"

#include <atomic>
#include <cstdint>

namespace pgtq::queue {

// The worker process's side of isolation = process, once its plugins are loaded and it
// said Ready: the calling thread reads each Run off the socket, in order, takes its start
// gate in the stop page (a Run pgtqd revoked while it waited is skipped), runs the attempt
// through the executor and answers Finished; Runs that came in meanwhile wait in the socket
// and are started without a wake-up. timeout_s becomes the handler's deadline; its
// should_stop() is also true while its lane's stop flag is (which pgtqd raises and clears).
// A watcher thread only waits for pgtqd to hang up.
//
// An allocation that fails (operator new, under worker-memory-limit) is noted: the attempt's
// error says so, and the worker answers with recycle set and returns, to be replaced by a
// fresh process. Returns 0 when pgtqd closes the socket while no handler runs; when it closes
// it while one runs, the process exits at once (_exit(0)): pgtqd gave the attempt up.
// Returns 1 when the socket breaks or carries what cannot be read. The calling thread only.
int serve_tasks(int socket,
                const TaskExecutor& executor,
                StopPage& stop_page,
                std::int64_t memory_limit_bytes);

} // namespace pgtq::queue
