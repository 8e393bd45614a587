#pragma once

#include <string>

namespace pgtq::queue {

// The queue whose work a log line is about, so that the lines of a pgtqd serving several
// queues say which (app/logging.cpp writes it after the logger's name: "queue[emails]: ...").
// Each thread of a queue's claim loop, lease keeper and workers sets its own; a worker
// process, which serves one queue, sets the process's once, before it starts any thread.
// Empty: none (the main thread, the scheduler).
//
// Threads: set_thread_queue() and log_queue() touch only the calling thread's value (and read
// the process's); set_process_queue() before any other thread reads it.
void set_thread_queue(std::string queue);
void set_process_queue(std::string queue);
// The calling thread's queue, else the process's, else empty.
const std::string& log_queue();

} // namespace pgtq::queue
