#include "app/queue_loops.hpp"

#include "app/component_settings.hpp"

#include <algorithm>
#include <optional>

namespace pgtq::app {

QueueLoops::QueueLoops(const Config& config, std::shared_ptr<const plugin::PluginSet> plugins) {
  const std::vector<QueueEntry> queues =
      parse_queues(config.queue, config.shared_workers, config.queue_weights);
  std::vector<int> weights;
  for (const QueueEntry& queue : queues) {
    if (queue.shared) {
      weights.push_back(queue.weight);
    }
  }
  if (!weights.empty()) {
    m_shared = std::make_shared<queue::SharedWorkers>(config.concurrency, weights);
  }
  int member = 0;
  for (const QueueEntry& queue : queues) {
    auto loop = std::make_unique<Loop>();
    loop->queue = queue;
    const queue::ClaimLoopSettings settings = claim_loop_settings(config, queue);
    loop->concurrency = settings.concurrency;
    queue::SharedSeat seat;
    if (queue.shared) {
      seat = {.workers = m_shared, .member = member++};
    }
    loop->claim_loop =
        std::make_unique<queue::ClaimLoop>(settings, plugins, loop->state, std::move(seat));
    m_loops.push_back(std::move(loop));
  }
}

QueueLoops::~QueueLoops() {
  stop_at_once();
  join();
}

void QueueLoops::start() {
  for (const auto& loop : m_loops) {
    loop->thread = std::thread([claim_loop = loop->claim_loop.get()] { claim_loop->run(); });
  }
}

bool QueueLoops::ready() const {
  return std::all_of(
      m_loops.begin(), m_loops.end(), [](const auto& loop) { return loop->state.ready.load(); });
}

bool QueueLoops::any_ready() const {
  return std::any_of(
      m_loops.begin(), m_loops.end(), [](const auto& loop) { return loop->state.ready.load(); });
}

bool QueueLoops::finished() const {
  return std::all_of(
      m_loops.begin(), m_loops.end(), [](const auto& loop) { return loop->state.finished.load(); });
}

bool QueueLoops::drain() {
  bool started = false;
  for (const auto& loop : m_loops) {
    started = !loop->state.drain.exchange(true) || started;
    loop->claim_loop->wake();
  }
  return started;
}

void QueueLoops::stop_at_once() {
  for (const auto& loop : m_loops) {
    loop->state.drain = true;
    loop->state.cancel_now = true;
    loop->claim_loop->wake();
  }
}

void QueueLoops::use_plugins(const std::shared_ptr<const plugin::PluginSet>& plugins) {
  for (const auto& loop : m_loops) {
    loop->claim_loop->use_plugins(plugins);
  }
}

std::chrono::steady_clock::time_point QueueLoops::oldest_turn() const {
  using Clock = std::chrono::steady_clock;
  std::optional<Clock::rep> oldest;
  for (const auto& loop : m_loops) {
    if (loop->state.finished) {
      continue; // done draining: it no longer turns, and need not
    }
    const Clock::rep turn = loop->state.last_turn.load();
    oldest = oldest ? std::min(*oldest, turn) : turn;
  }
  return oldest ? Clock::time_point(Clock::duration(*oldest)) : Clock::now();
}

std::string QueueLoops::status_line() const {
  std::string line;
  bool connected = true;
  bool stopping = false;
  for (const auto& loop : m_loops) {
    const queue::DaemonState& state = loop->state;
    line += (line.empty() ? "queue " : ", queue ") + loop->queue.name + ": " +
            std::to_string(state.busy.load()) + "/" + std::to_string(loop->concurrency) +
            (loop->queue.shared ? " shared workers busy" : " workers busy");
    // A loop that has not connected yet is starting, not cut off.
    connected = connected && (state.db_connected || !state.ready);
    stopping = stopping || state.drain;
  }
  line += (m_loops.size() == 1 ? ", " : "; ") + std::to_string(succeeded()) + " done, " +
          std::to_string(failed()) + " failed";
  const auto count = [&](std::int64_t n, const char* one, const char* many) {
    if (n > 0) {
      line += ", " + std::to_string(n) + " " + (n == 1 ? one : many);
    }
  };
  count(sum(&queue::DaemonState::worker_crashes), "worker crash", "worker crashes");
  count(sum(&queue::DaemonState::worker_timeouts), "timeout", "timeouts");
  count(sum(&queue::DaemonState::worker_restarts), "worker restart", "worker restarts");
  if (!connected) {
    line += ", database unavailable";
  }
  if (stopping) {
    line += ", stopping";
  }
  return line;
}

void QueueLoops::join() {
  for (const auto& loop : m_loops) {
    if (loop->thread.joinable()) {
      loop->thread.join();
    }
  }
}

bool QueueLoops::wait_workers_idle(std::chrono::milliseconds wait) {
  // All at once: one after another, each queue's handlers would wait out the earlier
  // queues' waits too, and a stop take as long as all of them together.
  std::vector<char> idle(m_loops.size(), 0);
  std::vector<std::thread> waiters;
  for (std::size_t i = 0; i < m_loops.size(); ++i) {
    waiters.emplace_back(
        [&, i] { idle[i] = m_loops[i]->claim_loop->wait_workers_idle(wait) ? 1 : 0; });
  }
  for (std::thread& waiter : waiters) {
    waiter.join();
  }
  return std::all_of(idle.begin(), idle.end(), [](char each) { return each != 0; });
}

std::int64_t QueueLoops::succeeded() const {
  return sum(&queue::DaemonState::succeeded);
}

std::int64_t QueueLoops::failed() const {
  return sum(&queue::DaemonState::failed);
}

std::vector<metrics::LoopView> QueueLoops::metric_views() const {
  std::vector<metrics::LoopView> views;
  for (const auto& loop : m_loops) {
    views.push_back(
        {.queue = loop->queue.name, .concurrency = loop->concurrency, .state = &loop->state});
  }
  return views;
}

std::int64_t QueueLoops::sum(std::atomic<std::int64_t> queue::DaemonState::*counter) const {
  std::int64_t total = 0;
  for (const auto& loop : m_loops) {
    total += (loop->state.*counter).load();
  }
  return total;
}

} // namespace pgtq::app
