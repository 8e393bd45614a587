#include "queue/task_reports.hpp"

namespace pgtq::queue {

void TaskReports::progress(std::string json) {
  {
    const std::lock_guard lock(m_mutex);
    m_latest.progress = std::move(json);
    m_progress_new = true;
  }
  if (m_signal) {
    m_signal->raise();
  }
}

void TaskReports::checkpoint(std::string json) {
  {
    const std::lock_guard lock(m_mutex);
    m_latest.checkpoint = std::move(json);
    m_checkpoint_new = true;
  }
  if (m_signal) {
    m_signal->raise();
  }
}

TaskReports::Latest TaskReports::latest() const {
  const std::lock_guard lock(m_mutex);
  return m_latest;
}

TaskReports::Latest TaskReports::take_unwritten() {
  const std::lock_guard lock(m_mutex);
  Latest unwritten;
  if (m_progress_new) {
    unwritten.progress = m_latest.progress;
  }
  if (m_checkpoint_new) {
    unwritten.checkpoint = m_latest.checkpoint;
  }
  m_progress_new = false;
  m_checkpoint_new = false;
  return unwritten;
}

void TaskReports::give_back(const Latest& unwritten) {
  const std::lock_guard lock(m_mutex);
  m_progress_new = m_progress_new || unwritten.progress.has_value();
  m_checkpoint_new = m_checkpoint_new || unwritten.checkpoint.has_value();
}

} // namespace pgtq::queue
