#include "queue/worker_pool.hpp"

#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

using namespace pgtq;
using namespace std::chrono_literals;

namespace {

// The part of the test runners that counts the jobs started and lets a test wait for them;
// run() is not used by the pool, which calls run_jobs().
class CountingRunner : public queue::TaskRunner {
public:
  std::optional<queue::Outcome> run(int /*slot*/,
                                    const queue::ClaimedTask& /*task*/,
                                    const queue::Attempt& /*attempt*/) override {
    return std::nullopt;
  }

  // Whether `count` jobs have started within `limit`.
  bool started(int count, std::chrono::milliseconds limit) {
    std::unique_lock lock(m_mutex);
    return m_changed.wait_for(lock, limit, [&] { return m_started >= count; });
  }

protected:
  // Counts a job as started (m_mutex held); returns its order, from 1.
  int note_started() {
    m_changed.notify_all();
    return ++m_started;
  }

  std::mutex m_mutex;
  std::condition_variable m_changed;
  int m_started = 0;
};

// A runner that batches jobs until its first job starts: that job turns batches_jobs() false
// (as another slot's long attempt would), passes on what it leaves (as ProcessRunner does),
// and holds its thread until a second job has started elsewhere, or 5 s.
class FlippingRunner final : public CountingRunner {
public:
  void run_jobs(int /*slot*/, queue::Job job, queue::JobFeed& feed) override {
    std::unique_lock lock(m_mutex);
    if (note_started() == 1) {
      m_batches = false;
      lock.unlock();
      feed.pass_on();
      lock.lock();
      m_changed.wait_for(lock, 5s, [this] { return m_started >= 2; });
    }
    lock.unlock();
    feed.done(std::move(job), std::nullopt);
  }
  bool batches_jobs() const override { return m_batches.load(); }

private:
  std::atomic<bool> m_batches{true};
};

// A runner whose one thread stays in its first job until released.
class HoldingRunner final : public CountingRunner {
public:
  void run_jobs(int /*slot*/, queue::Job job, queue::JobFeed& feed) override {
    std::unique_lock lock(m_mutex);
    note_started();
    m_changed.wait_for(lock, 5s, [this] { return m_released; });
    lock.unlock();
    feed.done(std::move(job), queue::Outcome{}); // ran: an outcome, not a give-back
  }
  bool batches_jobs() const override { return false; }

  void release() {
    const std::lock_guard lock(m_mutex);
    m_released = true;
    m_changed.notify_all();
  }

private:
  bool m_released = false;
};

queue::ClaimedTask task(std::int64_t id) {
  queue::ClaimedTask claimed;
  claimed.id = id;
  claimed.name = "t";
  return claimed;
}

} // namespace

TEST_CASE("a job submitted without a wake-up while the runner batched is passed on to an idle "
          "thread after the runner stopped batching") {
  // The second job of a burst wakes no thread (the first one's thread is to pass it on). If
  // pass_on() asked batches_jobs() again, it would find it false and wake nobody: the job
  // would wait for the busy thread while the other one sleeps.
  for (int round = 0; round < 5; ++round) {
    CAPTURE(round);
    FlippingRunner runner;
    std::atomic<int> running{0};
    queue::WorkerPool pool(
        2, runner, [](queue::Outcome&&) {}, [](queue::ClaimedTask&&) {}, running);
    std::this_thread::sleep_for(20ms); // both threads wait for a job
    pool.submit(task(1), std::make_shared<queue::Attempt>(1));
    pool.submit(task(2), std::make_shared<queue::Attempt>(2));
    CHECK(runner.started(2, 2000ms));
    pool.shutdown();
  }
}

TEST_CASE("the newest waiting tasks beyond those kept are taken back, and the others still run") {
  HoldingRunner runner;
  std::atomic<int> running{0};
  std::atomic<int> not_started{0};
  queue::WorkerPool pool(
      1,
      runner,
      [](queue::Outcome&&) {},
      [&](queue::ClaimedTask&&) { ++not_started; },
      running,
      false);
  pool.submit(task(1), std::make_shared<queue::Attempt>(1));
  REQUIRE(runner.started(1, 2000ms)); // task 1 runs; 2..6 wait for the one thread
  for (std::int64_t id = 2; id <= 6; ++id) {
    pool.submit(task(id), std::make_shared<queue::Attempt>(id));
  }
  CHECK(pool.waiting_tasks() == 5);
  const std::vector<queue::ClaimedTask> taken = pool.take_waiting_beyond(2);
  REQUIRE(taken.size() == 3);
  CHECK(taken[0].id == 6); // the last claimed first
  CHECK(taken[1].id == 5);
  CHECK(taken[2].id == 4);
  CHECK(pool.waiting_tasks() == 2);
  CHECK(pool.take_waiting_beyond(2).empty());
  runner.release();
  CHECK(runner.started(3, 2000ms));                                   // 2 and 3 still run
  CHECK(pool.wait_idle_until(std::chrono::steady_clock::now() + 2s)); // taken ones not busy
  CHECK(not_started == 0); // taken back, not reported as given back by the pool
  pool.shutdown();
}
