#pragma once

#include "plugin/handler_registry.hpp"
#include "queue/daemon_state.hpp"
#include "queue/settings.hpp"
#include "queue/task_runner.hpp"
#include "queue/worker_process.hpp"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace pgtq::queue {

// isolation = process: each pool slot has a worker process of its own (WorkerProcess) that
// runs its attempts one at a time, supervised from the slot's pool thread:
//  - should_stop (a cancellation, a lost lease, shutdown) is passed on as a Stop message;
//  - at the attempt's timeout (the plugin's for its task name, else task-timeout) the worker
//    is sent Stop, and killed timeout_grace later if it has not answered: the attempt is a
//    failed one, "timed out after N s", retried by the usual backoff;
//  - a worker that dies running an attempt costs that attempt ("killed by SIGSEGV"), at
//    once: the pool thread sees its socket close;
//  - a dead worker is replaced before the slot takes its next task: at once the first time,
//    then after 0.1 s, 0.2 s, ... up to 10 s while it keeps dying without finishing a task.
// Database connections, leases and outcomes stay in pgtqd.
//
// Threads: prepare() and run() for a slot from that slot's pool thread only; abandon() from
// any thread.
class ProcessRunner final : public TaskRunner {
public:
  // plugins: what the workers load until use_plugins() says otherwise.
  ProcessRunner(int slots,
                std::string queue,
                std::shared_ptr<const plugin::PluginSet> plugins,
                const IsolationSettings& settings,
                DaemonState& state);
  ~ProcessRunner() override;
  ProcessRunner(const ProcessRunner&) = delete;
  ProcessRunner& operator=(const ProcessRunner&) = delete;

  void prepare(int slot) override;
  std::optional<Outcome>
  run(int slot, const ClaimedTask& task, const std::atomic<bool>& stop) override;
  // Idle workers are replaced by workers of these plugins before their next task; a worker
  // running a task of older plugins finishes it first.
  void use_plugins(std::shared_ptr<const plugin::PluginSet> plugins) override;
  void abandon() override;

  // How long a worker has to load its plugins and say it is ready.
  static constexpr std::chrono::seconds k_start_timeout{60};

private:
  struct Slot {
    std::unique_ptr<WorkerProcess> process;
    std::shared_ptr<const plugin::PluginSet> plugins; // what process loaded
    std::atomic<pid_t> pid{0}; // of process, for abandon() on another thread; 0: none
    int failures = 0;          // deaths since the last attempt that finished
    bool started_before = false;
  };

  // Starts the slot's worker unless it has one of these plugins (one of other plugins is
  // retired first), after the restart backoff. False when give_up() turned true, or
  // abandon() was called, first.
  bool ensure_started(int slot,
                      const std::shared_ptr<const plugin::PluginSet>& plugins,
                      const std::function<bool()>& give_up);
  // Reaps the slot's worker and forgets it; returns how it ended.
  std::string retire(int slot);
  // The delay before starting a slot's worker that died `failures` times in a row.
  static std::chrono::milliseconds restart_delay(int failures);
  Outcome failed_attempt(const ClaimedTask& task, std::string error) const;

  const std::string m_queue;
  const IsolationSettings m_settings;
  DaemonState& m_state;
  std::vector<std::unique_ptr<Slot>> m_slots;
  std::atomic<bool> m_closing{false};                 // set by abandon()
  std::mutex m_mutex;                                 // guards m_plugins; for m_closed
  std::shared_ptr<const plugin::PluginSet> m_plugins; // the newest, for prepare()
  std::condition_variable m_closed;                   // wakes restart waits at abandon()
};

} // namespace pgtq::queue
