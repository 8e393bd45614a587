#pragma once

#include "plugin/plugin_directory.hpp"

#include <atomic>

namespace pgtq::queue {

// The memory page pgtqd shares with one worker process (isolation = process): the stop flag
// of the attempt the worker runs, which is what its handler's should_stop() reads. pgtqd's
// pool thread clears it before each Run and raises it to stop the attempt (a cancellation, a
// lost lease, shutdown), with a store and no frame: the worker's thread that runs the
// handler reads Run frames itself, and nothing in the worker has to be woken for a Stop.
//
// pgtqd creates it (a memfd of one page, mapped read-write, then sealed against shrinking
// and growing: a worker holding the descriptor cannot truncate it under pgtqd, which would
// fault on its next store) and hands the descriptor over with the Hello; the worker maps it
// read-only.
class StopPage {
public:
  // pgtqd's side. Throws std::system_error.
  static StopPage create();
  // The worker's side, from the descriptor pgtqd sent (closed here). Throws
  // std::system_error.
  static StopPage map(plugin::UniqueFd fd);

  ~StopPage();
  StopPage(StopPage&& other) noexcept;
  StopPage& operator=(StopPage&& other) noexcept;
  StopPage(const StopPage&) = delete;
  StopPage& operator=(const StopPage&) = delete;

  // The descriptor to send the worker (pgtqd's side; -1 on the worker's).
  int fd() const { return m_fd.get(); }
  // pgtqd's side only: the worker's mapping is read-only.
  void set(bool stopped) { writable_flag().store(stopped); }
  const std::atomic<bool>& flag() const { return *static_cast<const std::atomic<bool>*>(m_page); }

private:
  StopPage(plugin::UniqueFd fd, void* page) : m_fd(std::move(fd)), m_page(page) {}
  std::atomic<bool>& writable_flag() { return *static_cast<std::atomic<bool>*>(m_page); }

  plugin::UniqueFd m_fd;
  void* m_page = nullptr;
};

} // namespace pgtq::queue
