#include "queue/worker_pool.hpp"

#include <algorithm>

namespace pgtq::queue {

WorkerPool::WorkerPool(int threads,
                       TaskRunner& runner,
                       OutcomeSink on_outcome,
                       TaskSink on_not_started,
                       std::atomic<int>& running)
    : m_runner(runner), m_on_outcome(std::move(on_outcome)),
      m_on_not_started(std::move(on_not_started)), m_running(running) {
  m_threads.reserve(static_cast<std::size_t>(threads));
  for (int slot = 0; slot < threads; ++slot) {
    m_threads.emplace_back([this, slot] { work(slot); });
  }
}

WorkerPool::~WorkerPool() {
  shutdown();
}

void WorkerPool::submit(ClaimedTask task, std::shared_ptr<const Attempt> attempt) {
  {
    const std::lock_guard lock(m_mutex);
    m_jobs.push_back({std::move(task), std::move(attempt)});
    ++m_busy;
  }
  m_wakeup.notify_one();
}

void WorkerPool::work(int slot) {
  for (;;) {
    m_runner.prepare(slot, [this] {
      const std::lock_guard lock(m_mutex);
      return m_closing || !m_jobs.empty();
    });
    Job job;
    {
      std::unique_lock lock(m_mutex);
      const std::uint64_t prepared = m_prepare_round;
      m_wakeup.wait(lock,
                    [&] { return m_closing || !m_jobs.empty() || m_prepare_round != prepared; });
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
      m_on_not_started(std::move(job.task));
    } else {
      ++m_running;
      std::optional<Outcome> outcome = m_runner.run(slot, job.task, *job.attempt);
      --m_running;
      if (outcome) {
        m_on_outcome(std::move(*outcome));
      } else {
        m_on_not_started(std::move(job.task)); // the runner gave it back
      }
    }
    {
      const std::lock_guard lock(m_mutex);
      --m_busy;
    }
    m_idle.notify_all();
  }
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
  for (Job& job : m_jobs) {
    tasks.push_back(std::move(job.task));
  }
  m_busy -= static_cast<int>(m_jobs.size());
  m_jobs.clear();
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
