#include "queue/socket_reporter.hpp"

#include "queue/worker_protocol.hpp"

namespace pgtq::queue {

SocketReporter::SocketReporter(std::function<void(const std::string& frame)> send)
    : m_send(std::move(send)) {}

SocketReporter::~SocketReporter() {
  {
    const std::lock_guard lock(m_mutex);
    m_stopping = true;
  }
  m_changed.notify_all();
  if (m_thread.joinable()) {
    m_thread.join();
  }
}

void SocketReporter::begin(std::int64_t task_id, std::uint32_t seq) {
  const std::lock_guard lock(m_mutex);
  m_task_id = task_id;
  m_seq = seq;
  m_waiting.reset();
  m_last_sent = Clock::time_point();
}

void SocketReporter::end() {
  const std::lock_guard lock(m_mutex);
  m_waiting.reset();
  m_task_id = 0;
}

void SocketReporter::progress(std::string json) {
  std::unique_lock lock(m_mutex);
  const auto now = Clock::now();
  if (now - m_last_sent >= k_progress_gap && !m_waiting) {
    m_last_sent = now;
    const std::int64_t task_id = m_task_id;
    const std::uint32_t seq = m_seq;
    lock.unlock();
    send_progress(task_id, seq, json);
    return;
  }
  m_waiting = std::move(json);
  if (!m_thread.joinable()) {
    m_thread = std::thread([this] { flush_later(); });
  }
  lock.unlock();
  m_changed.notify_one();
}

void SocketReporter::checkpoint(std::string json) {
  std::int64_t task_id = 0;
  std::uint32_t seq = 0;
  {
    const std::lock_guard lock(m_mutex);
    task_id = m_task_id;
    seq = m_seq;
  }
  m_send(worker::encode(worker::Report{.id = task_id,
                                       .seq = seq,
                                       .kind = worker::Report::Kind::checkpoint,
                                       .json = std::move(json)}));
}

void SocketReporter::send_progress(std::int64_t task_id,
                                   std::uint32_t seq,
                                   const std::string& json) {
  m_send(worker::encode(worker::Report{
      .id = task_id, .seq = seq, .kind = worker::Report::Kind::progress, .json = json}));
}

void SocketReporter::flush_later() {
  std::unique_lock lock(m_mutex);
  while (!m_stopping) {
    if (!m_waiting) {
      m_changed.wait(lock);
      continue;
    }
    const auto due = m_last_sent + k_progress_gap;
    if (Clock::now() < due) {
      m_changed.wait_until(lock, due);
      continue;
    }
    std::string json = std::move(*m_waiting);
    m_waiting.reset();
    m_last_sent = Clock::now();
    const std::int64_t task_id = m_task_id;
    const std::uint32_t seq = m_seq;
    lock.unlock();
    send_progress(task_id, seq, json);
    lock.lock();
  }
}

} // namespace pgtq::queue
