#pragma once

#include "plugin/plugin_directory.hpp"

#include <atomic>
#include <cstdint>

namespace pgtq::queue {

// The memory pgtqd shares with one worker process (isolation = process), two pages of a
// memfd, in lanes. pgtqd numbers the Runs it sends a worker (worker::Run::seq), and a Run
// uses lane seq % k_lanes: a worker may hold several Runs at once (the one it runs and those
// queued behind it in its socket), each in its own lane.
//
//  - The stop flags (first page): what a handler's should_stop() reads, one per lane.
//    pgtqd's pool thread clears a lane's before the Run that uses it and raises it to stop
//    that attempt (a cancellation, a lost lease, shutdown), with a store and no frame: the
//    worker's thread that runs the handler reads Run frames itself, and nothing in the
//    worker has to be woken for a Stop. The worker maps this page read-only.
//  - The start gates (second page): whether a Run has been started, one per lane, holding
//    the Run's number and its state. pgtqd sets the gate to (seq, pending) before the Run;
//    the worker takes it, (seq, pending) -> (seq, started), just before it starts the
//    handler, and pgtqd may revoke it, (seq, pending) -> (seq, revoked), to take a queued Run
//    back. Each is one compare-and-swap on the same word, so exactly one of them wins: a
//    revoked Run is never started, a started one is never given to another worker. A Run
//    whose gate holds another number (its lane was opened again for a later Run after it
//    was revoked) is not started either. Both sides map this page read-write.
//
// pgtqd creates it (a memfd mapped read-write, then sealed against shrinking and growing: a
// worker holding the descriptor cannot truncate it under pgtqd, which would fault on its
// next store) and hands the descriptor over with the Hello.
class StopPage {
public:
  // Lanes per worker. pgtqd has at most depth + 1 Runs undecided or running with a worker
  // (the running one and those queued), and a lane is opened again k_lanes Runs later, after
  // at most depth more were revoked in between: k_lanes > 2 × depth + 1 keeps a running
  // Run's stop flag from being reused.
  static constexpr int k_lanes = 64;

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

  // pgtqd's side only, before Run `seq`: its lane's stop cleared, its gate (seq, pending).
  void open(std::uint32_t seq);
  // pgtqd's side only: raises Run seq's stop flag.
  void stop(std::uint32_t seq) { writable_flag(lane(seq)).store(true); }
  // pgtqd's side: takes queued Run `seq` back. True: it was not started and never will be;
  // false: the worker has started it.
  bool revoke(std::uint32_t seq);

  // The worker's side: Run `seq` is about to start. False: pgtqd revoked it; skip it.
  bool take(std::uint32_t seq);
  // Run seq's stop flag, for should_stop().
  const std::atomic<bool>& flag(std::uint32_t seq) const;

private:
  StopPage(plugin::UniqueFd fd, void* flags, void* gates)
      : m_fd(std::move(fd)), m_flags(flags), m_gates(gates) {}
  static int lane(std::uint32_t seq) { return static_cast<int>(seq % k_lanes); }
  std::atomic<bool>& writable_flag(int lane);
  std::atomic<std::uint32_t>& gate(int lane);
  void unmap();

  plugin::UniqueFd m_fd;
  void* m_flags = nullptr; // the first page
  void* m_gates = nullptr; // the second page
};

} // namespace pgtq::queue
