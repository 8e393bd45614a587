#pragma once

#include "db/connection.hpp"
#include "queue/in_flight.hpp"
#include "queue/task.hpp"

#include <mutex>
#include <vector>

namespace pgtq::queue {

// Gives claimed tasks back to the queue (pgtq.release), on the claim loop's connection:
// those stopped before a worker started them (cancelled, lease lost, or prefetched when the
// drain started), those a runner gave back (no worker could be started; a worker killed after
// a stop), and at the end of the grace period those still running.
//
// Threads: add() from any thread (a worker that will not start a task, the claim loop);
// release_*() from the claim loop's thread.
class TaskReleaser {
public:
  explicit TaskReleaser(InFlightTasks& in_flight) : m_in_flight(in_flight) {}

  // A task no worker will start; it stays in flight until it is released.
  void add(ClaimedTask&& task);
  void add(std::vector<ClaimedTask>&& tasks);
  // Prefetched tasks the claim loop gives back while it runs (their queue's attempts turned
  // slow): released with the others, logged as one count.
  void add_given_back(std::vector<ClaimedTask>&& tasks);
  // Whether tasks wait to be released.
  bool has_pending();

  // Releases the tasks added so far; draining: the prefetched ones are counted, not logged
  // one by one. Throws on a database error, keeping them for the next try.
  void release_not_started(db::Connection& connection, bool draining);
  // Asks every attempt whose handler has not returned to stop at shutdown, to be added here
  // once its runner gave it back (isolation = process: the worker has ended it).
  void stop_unfinished();
  // Asks every attempt whose handler has not returned to stop, and releases it. Attempts
  // whose handler returned are left for their outcomes: releasing one would requeue a task
  // that already ran, and fencing would then discard its outcome. Throws on a database error.
  void release_unfinished(db::Connection& connection);

private:
  InFlightTasks& m_in_flight; // thread-safe
  std::mutex m_mutex;
  std::vector<ClaimedTask> m_not_started; // guarded: added by any thread, taken by the loop
  std::vector<ClaimedTask> m_given_back;  // guarded: added and taken by the loop
};

} // namespace pgtq::queue
