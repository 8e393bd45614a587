#include "queue/worker_service.hpp"

#include "queue/queue_logger.hpp"
#include "queue/worker_socket.hpp"

#include <spdlog/spdlog.h>

#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <memory>
#include <mutex>
#include <new>
#include <system_error>
#include <thread>

namespace pgtq::queue {
namespace {

// Raised by the new_handler: some allocation of this process failed during this attempt.
std::atomic<bool> g_out_of_memory{false};
// The socket to pgtqd and the OutOfMemory frame, ready before any allocation can fail; every
// frame goes out under g_send_mutex, so that the new_handler's cannot cut into another.
int g_socket = -1;
std::string g_out_of_memory_frame;
std::mutex g_send_mutex;

void on_allocation_failure() {
  if (!g_out_of_memory.exchange(true) && g_socket >= 0) {
    // Told at once, allocating nothing: if the worker dies of it next (an allocation failure
    // in code that cannot handle it), pgtqd still says the memory cap was hit. Skipped when
    // a frame is being sent (by the thread that failed here, among others).
    std::unique_lock lock(g_send_mutex, std::try_to_lock);
    if (lock.owns_lock()) {
      (void)::send(g_socket,
                   g_out_of_memory_frame.data(),
                   g_out_of_memory_frame.size(),
                   MSG_NOSIGNAL | MSG_DONTWAIT);
    }
  }
  throw std::bad_alloc();
}

// What the reader thread hands the running thread.
class Inbox {
public:
  // Reader thread.
  void run(worker::Run run) {
    {
      const std::lock_guard lock(m_mutex);
      // The socket is ordered: a Stop read before this Run was meant for an earlier attempt
      // of the task (a timeout or lost lease the handler returned from in time), and must not
      // make its retry start already stopped.
      if (m_stopped == run.id) {
        m_stopped = 0;
      }
      m_runs.push_back(std::move(run));
    }
    m_changed.notify_all();
  }
  void stop(std::int64_t id) {
    const std::lock_guard lock(m_mutex);
    m_stopped = id;
    if (m_running == id) {
      m_stop.store(true);
    }
  }
  // The socket closed or broke: true when a handler is running now.
  bool close(bool broken) {
    bool busy = false;
    {
      const std::lock_guard lock(m_mutex);
      m_closed = true;
      m_broken = broken;
      busy = m_running != 0;
    }
    m_changed.notify_all();
    return busy;
  }

  // Running thread: the next attempt, marked as running, or nothing once closed.
  std::optional<worker::Run> take() {
    std::unique_lock lock(m_mutex);
    m_changed.wait(lock, [&] { return m_closed || !m_runs.empty(); });
    if (m_closed) {
      // pgtqd is gone or gave this worker up: a Run still queued would be run for nobody (and
      // by an orphan, if its handler never returns).
      return std::nullopt;
    }
    worker::Run run = std::move(m_runs.front());
    m_runs.pop_front();
    m_running = run.id;
    m_stop.store(m_stopped == run.id); // a Stop may come right behind its Run
    return run;
  }
  void done() {
    const std::lock_guard lock(m_mutex);
    m_running = 0;
  }
  bool broken() {
    const std::lock_guard lock(m_mutex);
    return m_broken;
  }
  const std::atomic<bool>& stop_flag() const { return m_stop; }

private:
  std::mutex m_mutex;
  std::condition_variable m_changed;
  std::deque<worker::Run> m_runs;
  std::int64_t m_running = 0; // task ids are positive
  std::int64_t m_stopped = 0;
  bool m_closed = false;
  bool m_broken = false;
  std::atomic<bool> m_stop{false};
};

void read_messages(int socket, Inbox& inbox) {
  worker::FrameReader reader;
  bool broken = false;
  try {
    while (worker::read_into(socket, reader)) {
      while (std::optional<worker::Message> message = reader.next()) {
        if (auto* run = std::get_if<worker::Run>(&*message)) {
          inbox.run(std::move(*run));
        } else if (const auto* stop = std::get_if<worker::Stop>(&*message)) {
          inbox.stop(stop->id);
        } else {
          logger()->error("worker: unexpected message \"{}\" from pgtqd",
                          worker::name_of(*message));
          broken = true;
          break;
        }
      }
      if (broken) {
        break;
      }
    }
  } catch (const std::exception& error) {
    logger()->error("worker: reading from pgtqd: {}", error.what());
    broken = true;
  }
  if (inbox.close(broken)) {
    // pgtqd is gone or gave the running attempt up: nothing it returns would be recorded.
    spdlog::default_logger_raw()->flush();
    ::_exit(0);
  }
}

} // namespace

int serve_tasks(int socket, const TaskExecutor& executor, std::int64_t memory_limit_bytes) {
  g_out_of_memory_frame = worker::encode(worker::OutOfMemory{});
  g_socket = socket;
  std::set_new_handler(on_allocation_failure);
  // Shared with the reader thread, which is never joined (it blocks on the socket until the
  // process ends) and so may outlive this call.
  const auto shared_inbox = std::make_shared<Inbox>();
  Inbox& inbox = *shared_inbox;
  std::thread([socket, shared_inbox] { read_messages(socket, *shared_inbox); }).detach();
  const std::string limit_note = "out of memory: the worker reached worker-memory-limit (" +
                                 std::to_string(memory_limit_bytes >> 20) + " MiB)";
  while (std::optional<worker::Run> run = inbox.take()) {
    ClaimedTask task;
    task.id = run->id;
    task.name = std::move(run->name);
    task.args = std::move(run->args);
    task.attempt = run->attempt;
    task.max_attempts = run->max_attempts;
    g_out_of_memory.store(false);
    const auto started = std::chrono::steady_clock::now();
    Outcome outcome;
    try {
      outcome = executor.run(task,
                             inbox.stop_flag(),
                             run->timeout_s > 0 ? std::optional(run->timeout_s) : std::nullopt);
    } catch (const std::bad_alloc&) {
      // Out of memory outside the handler's own barrier (the executor's copies, say).
      g_out_of_memory.store(true);
      outcome.status = OutcomeStatus::retry;
      outcome.error.clear();
    }
    inbox.done();
    worker::Finished finished{
        .id = task.id,
        .status = outcome.status,
        .result = std::move(outcome.result),
        .error = std::move(outcome.error),
        .retry_in_s = outcome.retry_in_s,
        .duration_s =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count(),
        .recycle = g_out_of_memory.load()};
    if (finished.recycle && finished.status != OutcomeStatus::done) {
      finished.error =
          limit_note + (finished.error.empty() ? "" : "; the handler said: " + finished.error);
    }
    try {
      const std::string frame = worker::encode(finished);
      const std::lock_guard lock(g_send_mutex);
      worker::send_frame(socket, frame);
    } catch (const std::system_error& error) {
      logger()->error("worker: answering pgtqd: {}", error.what());
      return 1;
    }
    if (finished.recycle) {
      return 0;
    }
  }
  return inbox.broken() ? 1 : 0;
}

} // namespace pgtq::queue
