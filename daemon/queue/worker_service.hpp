#pragma once

#include "queue/task_executor.hpp"

#include <cstdint>

namespace pgtq::queue {

// The worker process's side of isolation = process, once its plugins are loaded and it
// said Ready: a reader thread takes Run and Stop messages off the socket; the calling
// thread runs each attempt through the executor (timeout_s becomes the handler's deadline,
// Stop raises its should_stop()) and answers Finished.
//
// An allocation that fails (operator new, under worker-memory-limit) is noted: the attempt's
// error says so, and the worker answers with recycle set and returns, to be replaced by a
// fresh process. Returns 0 when pgtqd closes the socket while no handler runs; when it closes
// it while one runs, the process exits at once (_exit(0)): pgtqd gave the attempt up.
// Returns 1 when the socket breaks or carries what cannot be read. The calling thread only.
int serve_tasks(int socket, const TaskExecutor& executor, std::int64_t memory_limit_bytes);

} // namespace pgtq::queue
