#include "queue/worker_pool.hpp"

#include "queue/log_context.hpp"

#include <algorithm>

namespace pgtq::queue {

WorkerPool::WorkerPool(int threads,
                       TaskRunner& runner,
                       OutcomeSink on_outcome,
                       TaskSink on_not_started,
                       std::atomic<int>& running,
                       bool hand_ahead,
                       std::string log_queue)
    : m_hand_ahead(hand_ahead), m_runner(runner), m_on_outcome(std::move(on_outcome)),
      m_on_not_started(std::move(on_not_started)), m_running(running) {
  m_threads.reserve(static_cast<std::size_t>(threads));
  try {
    for (int slot = 0; slot < threads; ++slot) {
      m_threads.emplace_back([this, slot, log_queue] {
        set_thread_queue(log_queue);
        work(slot);
      });
    }
  } catch (...) {
    shutdown(); // the threads started so far end and are joined, not destroyed joinable
    throw;
  }
}

WorkerPool::~WorkerPool() {
  shutdown();
}

void WorkerPool::submit(ClaimedTask task, std::shared_ptr<const Attempt> attempt) {
  bool wake = true;
  {
    const std::lock_guard lock(m_mutex);
    // While the runner batches, the first job of a burst wakes one thread, which takes
    // several and passes the rest on (Feed::pass_on); threads not woken need no wake-up.
    wake = m_jobs.empty() || !m_hand_ahead || !m_runner.batches_jobs();
    m_jobs.push_back({std::move(task), std::move(attempt), 0});
    ++m_busy;
    if (!wake) {
      ++m_unnotified; // for pass_on(), whatever batches_jobs() says by then
    }
  }
  if (wake) {
    m_wakeup.notify_one();
  }
}

void WorkerPool::work(int slot) {
  Feed feed(*this);
  for (;;) {
    m_runner.prepare(slot, [this] {
      const std::lock_guard lock(m_mutex);
      return m_closing || !m_jobs.empty();
    });
    Job job;
    {
      std::unique_lock lock(m_mutex);
      const std::uint64_t prepared = m_prepare_round;
      ++m_waiting;
      m_wakeup.wait(lock,
                    [&] { return m_closing || !m_jobs.empty() || m_prepare_round != prepared; });
      --m_waiting;
      if (m_jobs.empty()) {
        if (m_closing) {
          return;
        }
        continue; // prepare_again(): prepare, then wait again
      }
      job = std::move(m_jobs.front());
      m_jobs.pop_front();
    }
    if (job.attempt->stop.load()) {
      // Cancelled, or its lease lost, while it waited: never started, so given back.
      feed.done(std::move(job), std::nullopt);
      feed.pass_on();
    } else {
      ++m_running;
      m_runner.run_jobs(slot, std::move(job), feed);
      --m_running;
    }
  }
}

std::optional<Job> WorkerPool::Feed::take_next(bool greedy,
                                               const std::function<bool(const Job&)>& accept) {
  const std::lock_guard lock(m_pool.m_mutex);
  // A job an idle thread is about to take runs sooner there than behind this slot's, unless
  // this slot's attempts are so short that the other thread's wake-up costs more.
  if (!m_pool.m_hand_ahead || m_pool.m_closing || m_pool.m_draining || m_pool.m_jobs.empty() ||
      (!greedy && m_pool.m_jobs.size() <= static_cast<std::size_t>(m_pool.m_waiting)) ||
      !accept(m_pool.m_jobs.front())) {
    return std::nullopt;
  }
  Job job = std::move(m_pool.m_jobs.front());
  m_pool.m_jobs.pop_front();
  return job;
}

void WorkerPool::Feed::put_back(Job job) {
  {
    const std::lock_guard lock(m_pool.m_mutex);
    if (!m_pool.m_closing && !m_pool.m_draining) {
      m_pool.m_jobs.push_front(std::move(job));
      m_pool.m_wakeup.notify_one();
      return;
    }
  }
  done(std::move(job), std::nullopt); // the drain releases what did not start
}

void WorkerPool::Feed::pass_on() {
  // Only jobs submit() woke no thread for: the others have one about to take them. Not
  // batches_jobs() again, which another slot may have turned false since those were
  // submitted: their wake-up would be lost, and they would wait for a busy thread.
  bool wake = false;
  {
    const std::lock_guard lock(m_pool.m_mutex);
    // Some of them may have been taken meanwhile (take_next, a thread back from a job).
    m_pool.m_unnotified = std::min(m_pool.m_unnotified, m_pool.m_jobs.size());
    wake = m_pool.m_unnotified > 0 && m_pool.m_waiting > 0;
    if (wake) {
      --m_pool.m_unnotified; // the woken thread passes on the rest in turn
    }
  }
  if (wake) {
    m_pool.m_wakeup.notify_one();
  }
}

void WorkerPool::Feed::done(Job job, std::optional<Outcome> outcome) {
  if (outcome) {
    m_pool.m_on_outcome(std::move(*outcome));
  } else {
    m_pool.m_on_not_started(std::move(job.task)); // never started, or the runner gave it back
  }
  {
    const std::lock_guard lock(m_pool.m_mutex);
    --m_pool.m_busy;
  }
  m_pool.m_idle.notify_all();
}

void WorkerPool::prepare_again() {
  {
    const std::lock_guard lock(m_mutex);
    ++m_prepare_round;
  }
  m_wakeup.notify_all();
}

std::vector<ClaimedTask> WorkerPool::take_unstarted() {
  std::vector<ClaimedTask> tasks;
  const std::lock_guard lock(m_mutex);
  m_draining = true;
  for (Job& job : m_jobs) {
    tasks.push_back(std::move(job.task));
  }
  m_busy -= static_cast<int>(m_jobs.size());
  m_jobs.clear();
  m_unnotified = 0;
  return tasks;
}

std::optional<ClaimedTask> WorkerPool::take_unstarted(std::int64_t id) {
  std::optional<ClaimedTask> taken;
  {
    const std::lock_guard lock(m_mutex);
    const auto found = std::find_if(
        m_jobs.begin(), m_jobs.end(), [id](const Job& job) { return job.task.id == id; });
    if (found == m_jobs.end()) {
      return taken;
    }
    taken = std::move(found->task);
    m_jobs.erase(found);
    --m_busy;
  }
  m_idle.notify_all();
  return taken;
}

std::vector<ClaimedTask> WorkerPool::take_waiting_beyond(std::size_t keep) {
  std::vector<ClaimedTask> tasks;
  {
    const std::lock_guard lock(m_mutex);
    while (m_jobs.size() > keep) {
      tasks.push_back(std::move(m_jobs.back().task)); // the newest (last claimed) first
      m_jobs.pop_back();
    }
    m_busy -= static_cast<int>(tasks.size());
    m_unnotified = std::min(m_unnotified, m_jobs.size());
  }
  if (!tasks.empty()) {
    m_idle.notify_all();
  }
  return tasks;
}

std::size_t WorkerPool::waiting_tasks() const {
  const std::lock_guard lock(m_mutex);
  return m_jobs.size();
}

bool WorkerPool::wait_idle_until(std::chrono::steady_clock::time_point deadline) {
  std::unique_lock lock(m_mutex);
  return m_idle.wait_until(lock, deadline, [this] { return m_busy.load() == 0; });
}

void WorkerPool::shutdown() {
  bool idle = false;
  {
    const std::lock_guard lock(m_mutex);
    m_closing = true;
    // Jobs not started yet are dropped: the claim loop releases them back to the queue.
    m_busy -= static_cast<int>(m_jobs.size());
    m_jobs.clear();
    idle = m_busy.load() == 0;
  }
  m_wakeup.notify_all();
  // Handlers that are still running were asked to stop and given the grace period: end them
  // where that is safe (worker processes), and give their threads a moment to return. Idle
  // threads waiting to start a worker return at once.
  m_runner.abandon();
  if (!idle) {
    idle = wait_idle_until(std::chrono::steady_clock::now() + std::chrono::seconds(2));
  }
  for (std::thread& thread : m_threads) {
    if (!thread.joinable()) {
      continue;
    }
    if (idle) {
      thread.join();
    } else {
      thread.detach();
    }
  }
  m_threads.clear();
}

} // namespace pgtq::queue
