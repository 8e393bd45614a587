#include "queue/worker_service.hpp"

#include "queue/queue_logger.hpp"
#include "queue/socket_reporter.hpp"
#include "queue/worker_socket.hpp"

#include <spdlog/spdlog.h>

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
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

// Whether a handler runs now, and whether pgtqd hung up. Each thread sets its own flag and
// then looks at the other's (both sequentially consistent), so at least one of the two sees
// both: a Run read together with the hang-up is not started, and a handler running when it
// comes is cut short.
std::atomic<bool> g_running{false};
std::atomic<bool> g_hung_up{false};

// The watcher thread: waits until pgtqd closes its end of the socket (or it breaks), so that
// a handler running then ends with the process at once: pgtqd gave the attempt up, and
// nothing it returns would be recorded. It asks poll() for the hang-up alone (POLLRDHUP):
// frames coming in do not wake it, so it costs nothing per task; the thread running the
// handlers reads the frames itself.
void watch_hang_up(int socket) {
  for (;;) {
    pollfd watched{socket, POLLRDHUP, 0};
    if (::poll(&watched, 1, -1) > 0) {
      break;
    }
    if (errno != EINTR) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10)); // ENOMEM: try again
    }
  }
  g_hung_up.store(true);
  if (g_running.load()) {
    spdlog::default_logger_raw()->flush();
    ::_exit(0);
  }
}

// The next Run from pgtqd, or nothing: the socket closed (broken false) or broke, or carried
// something else (broken true).
std::optional<worker::Run> next_run(int socket, worker::FrameReader& reader, bool& broken) {
  broken = false;
  try {
    for (;;) {
      if (std::optional<worker::Message> message = reader.next()) {
        if (auto* run = std::get_if<worker::Run>(&*message)) {
          return std::move(*run);
        }
        logger()->error("worker: unexpected message \"{}\" from pgtqd", worker::name_of(*message));
        broken = true;
        return std::nullopt;
      }
      if (!worker::read_into(socket, reader)) {
        return std::nullopt;
      }
    }
  } catch (const std::exception& error) {
    logger()->error("worker: reading from pgtqd: {}", error.what());
    broken = true;
    return std::nullopt;
  }
}

} // namespace

int serve_tasks(int socket,
                const TaskExecutor& executor,
                StopPage& stop_page,
                std::int64_t memory_limit_bytes) {
  g_out_of_memory_frame = worker::encode(worker::OutOfMemory{});
  g_socket = socket;
  std::set_new_handler(on_allocation_failure);
  // Never joined: it blocks on the socket until pgtqd hangs up or the process ends.
  std::thread([socket] { watch_hang_up(socket); }).detach();
  worker::FrameReader reader;
  bool broken = false;
  const std::string limit_note = "out of memory: the worker reached worker-memory-limit (" +
                                 std::to_string(memory_limit_bytes >> 20) + " MiB)";
  // A report that cannot be sent is dropped: pgtqd is gone, which the next read says.
  SocketReporter reporter([socket](const std::string& frame) {
    try {
      const std::lock_guard lock(g_send_mutex);
      worker::send_frame(socket, frame);
    } catch (const std::system_error&) {
    }
  });
  while (std::optional<worker::Run> run = next_run(socket, reader, broken)) {
    g_running.store(true);
    if (g_hung_up.load()) {
      // pgtqd is gone or gave this worker up: the Run would be run for nobody (and by an
      // orphan, if its handler never returns).
      return 0;
    }
    if (!stop_page.take(run->seq)) {
      // pgtqd took it back while it waited behind the last one: another worker runs it, or
      // it is released. Nothing to answer.
      g_running.store(false);
      continue;
    }
    const std::atomic<bool>& stop = stop_page.flag(run->seq);
    ClaimedTask task;
    task.id = run->id;
    task.name = std::move(run->name);
    task.args = std::move(run->args);
    task.attempt = run->attempt;
    task.max_attempts = run->max_attempts;
    task.parents = std::move(run->parents);
    task.checkpoint = std::move(run->checkpoint);
    g_out_of_memory.store(false);
    const auto started = std::chrono::steady_clock::now();
    Outcome outcome;
    reporter.begin(task.id, run->seq);
    try {
      outcome = executor.run(
          task, stop, run->timeout_s > 0 ? std::optional(run->timeout_s) : std::nullopt, &reporter);
    } catch (const std::bad_alloc&) {
      // Out of memory outside the handler's own barrier (the executor's copies, say).
      g_out_of_memory.store(true);
      outcome.status = OutcomeStatus::retry;
      outcome.error.clear();
    }
    reporter.end();
    g_running.store(false);
    worker::Finished finished{
        .id = task.id,
        .status = outcome.status,
        .result = std::move(outcome.result),
        .error = std::move(outcome.error),
        .retry_in_s = outcome.retry_in_s,
        .duration_s =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count(),
        .recycle = g_out_of_memory.load(),
        .timed_out = outcome.timed_out,
        .progress = std::move(outcome.progress),
        .checkpoint = std::move(outcome.checkpoint),
        .followups = std::move(outcome.followups)};
    if (finished.recycle && finished.status != OutcomeStatus::done) {
      finished.error =
          limit_note + (finished.error.empty() ? "" : "; the handler said: " + finished.error);
    }
    try {
      std::string frame;
      try {
        frame = worker::encode(finished);
      } catch (const worker::ProtocolError& error) {
        // Larger than a frame may be (a result of tens of MiB, say): the attempt fails for good
        // with the reason; another would be as large.
        finished.status = OutcomeStatus::fail;
        finished.error = std::string("the outcome is too large to hand to pgtqd: ") + error.what();
        finished.result.clear();
        finished.progress.reset();
        finished.checkpoint.reset();
        finished.followups.clear();
        frame = worker::encode(finished);
      }
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
  return broken ? 1 : 0;
}

} // namespace pgtq::queue
