#include "queue/process_runner.hpp"

#include "queue/backoff.hpp"
#include "queue/queue_logger.hpp"
#include "queue/task_executor.hpp"

#include <spdlog/spdlog.h>

#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <thread>

namespace pgtq::queue {
namespace {

using Clock = std::chrono::steady_clock;

// How often a running attempt's stop flag is looked at: the delay from a cancellation (or a
// lost lease, or shutdown) to the worker's should_stop().
constexpr auto k_stop_poll = std::chrono::milliseconds(50);

// How long abandon() waits for the workers it killed to be dead.
constexpr auto k_abandon_wait = std::chrono::milliseconds(100);

// How long tasks handed to a worker behind its running attempt may wait there: once that
// attempt has run this long, they are taken back for other workers (a long attempt must not
// hold the tasks behind it), and no more are queued behind it.
constexpr auto k_queued_wait = std::chrono::milliseconds(10);

// How often a Run may be given back uncounted because its worker died before it started it
// (after it was sent, before the worker took its gate); the next such death counts it.
constexpr int k_deaths_before_start = 2;

// The largest Run handed to a busy worker (its frame: args, name and a few fields): a larger
// one waits for a free worker, which reads it at once.
constexpr std::size_t k_ahead_frame = 8 * 1024;

// A Run frame's size, within a few bytes, before it is encoded (its fixed fields and their
// names).
std::size_t run_frame_size(const ClaimedTask& task) {
  return task.args.size() + task.name.size() + 128;
}

// A slot whose recent attempts ran shorter than this on average takes the next tasks of the
// pool's queue even while other pool threads idle: waking one of them (and its worker) would
// cost more than the attempt.
constexpr double k_greedy_below_s = 0.0001;

double seconds(std::chrono::nanoseconds duration) {
  return std::chrono::duration<double>(duration).count();
}

// A report the worker sent about the attempt of the Run numbered seq; one about another Run
// (an earlier one, sent by the worker's reporter thread after that Run's answer) is dropped.
bool take_report(const worker::Report& report, std::uint32_t seq, const Job& job) {
  if (report.seq != seq || report.id != job.task.id) {
    return false;
  }
  if (report.kind == worker::Report::Kind::progress) {
    job.attempt->reports->progress(report.json);
  } else {
    job.attempt->reports->checkpoint(report.json);
  }
  return true;
}

// What the worker answered for task, as an outcome (the claim token stays in pgtqd).
Outcome outcome_of(const ClaimedTask& task, const worker::Finished& finished) {
  Outcome outcome;
  outcome.id = task.id;
  outcome.claim = task.claim;
  outcome.status = finished.status;
  outcome.result = finished.result;
  outcome.error = finished.error;
  outcome.retry_in_s = finished.retry_in_s;
  outcome.progress = finished.progress;
  outcome.checkpoint = finished.checkpoint;
  outcome.followups = finished.followups;
  outcome.timed_out = finished.timed_out;
  return outcome;
}

// The outcome of an attempt its worker answered; nothing when the shutdown stopped it and it
// did not finish (released, its attempt given back).
std::optional<Outcome> answered(const Job& job, const worker::Finished& finished) {
  if (job.attempt->shutting_down.load() &&
      (finished.status == OutcomeStatus::retry || finished.status == OutcomeStatus::snooze)) {
    return std::nullopt;
  }
  const ClaimedTask& task = job.task;
  Outcome outcome = outcome_of(task, finished);
  outcome.name = task.name;
  outcome.attempt = task.attempt;
  outcome.max_attempts = task.max_attempts;
  outcome.duration_s = finished.duration_s;
  return outcome;
}

} // namespace

ProcessRunner::ProcessRunner(int slots,
                             std::string queue,
                             std::shared_ptr<const plugin::PluginSet> plugins,
                             const IsolationSettings& settings,
                             DaemonState& state,
                             std::function<void()> on_available)
    : m_queue(std::move(queue)), m_settings(settings), m_state(state),
      m_on_available(std::move(on_available)), m_plugins(std::move(plugins)) {
  for (int i = 0; i < slots; ++i) {
    m_slots.push_back(std::make_unique<Slot>());
  }
}

ProcessRunner::~ProcessRunner() {
  abandon();
  for (auto& slot : m_slots) {
    slot->process.reset(); // kills and reaps; the pool's threads are gone by now
  }
}

std::chrono::milliseconds ProcessRunner::restart_delay(int failures) {
  if (failures <= 1) {
    return std::chrono::milliseconds(0); // one death is replaced at once
  }
  const int doublings = std::min(failures - 2, 7);
  return std::min(std::chrono::milliseconds(100 << doublings), std::chrono::milliseconds(10000));
}

std::string ProcessRunner::memory_limit_text() const {
  return "worker-memory-limit (" + std::to_string(m_settings.worker.memory_limit_bytes >> 20) +
         " MiB)";
}

void ProcessRunner::retire_if_ended(int slot) {
  Slot& state = *m_slots[static_cast<std::size_t>(slot)];
  if (state.process && state.process->ended()) {
    const pid_t pid = state.process->pid();
    const std::string how = retire(slot);
    ++state.failures;
    logger()->warn("worker {} (pid {}) {} while idle; starting another", slot + 1, pid, how);
  }
}

void ProcessRunner::prepare(int slot, const std::function<bool()>& job_waiting) {
  Slot& state = *m_slots[static_cast<std::size_t>(slot)];
  retire_if_ended(slot);
  ensure_started(
      slot,
      [this] {
        const std::lock_guard lock(m_mutex);
        return m_plugins;
      },
      [] { return false; },
      // A slot that cannot start a worker does not hold a task while it waits to try again:
      // run() gives the task back.
      [&] { return state.unavailable && job_waiting(); },
      true);
}

void ProcessRunner::use_plugins(std::shared_ptr<const plugin::PluginSet> plugins) {
  {
    const std::lock_guard lock(m_mutex);
    m_plugins = std::move(plugins);
  }
  m_closed.notify_all(); // a slot waiting out a restart delay starts on the new plugins
}

void ProcessRunner::set_unavailable(Slot& state, bool unavailable) {
  if (state.unavailable == unavailable) {
    return;
  }
  state.unavailable = unavailable;
  if (unavailable) {
    ++m_unavailable;
  } else {
    --m_unavailable;
    if (m_on_available) {
      m_on_available();
    }
  }
}

ProcessRunner::Start ProcessRunner::ensure_started(int slot,
                                                   const std::function<PluginsPtr()>& wanted,
                                                   const std::function<bool()>& give_up,
                                                   const std::function<bool()>& skip_wait,
                                                   bool retry) {
  Slot& state = *m_slots[static_cast<std::size_t>(slot)];
  for (;;) {
    PluginsPtr plugins = wanted();
    if (state.process && state.plugins != plugins) {
      const pid_t pid = state.process->pid();
      const int old_generation = state.plugins->generation();
      retire(slot);
      logger()->info("worker {} (pid {}) retired: plugins generation {} replaces {}",
                     slot + 1,
                     pid,
                     plugins->generation(),
                     old_generation);
    }
    if (state.process) {
      return Start::started;
    }
    const auto delay = restart_delay(state.failures);
    if (delay.count() > 0) {
      std::unique_lock lock(m_mutex);
      const auto until = Clock::now() + delay;
      // In steps, so that give_up() (a stop flag) and skip_wait() are seen too.
      while (!m_closing && !give_up() && !skip_wait() && Clock::now() < until) {
        m_closed.wait_until(lock, std::min(until, Clock::now() + k_stop_poll));
      }
      lock.unlock();
      if (skip_wait()) {
        return Start::gave_up;
      }
      plugins = wanted(); // a reload while it waited: the new plugins
    }
    if (m_closing || give_up()) {
      return Start::gave_up;
    }
    try {
      state.process = std::make_unique<WorkerProcess>(
          slot + 1, m_queue, m_settings.worker, plugins->copies(), k_start_timeout, [&] {
            return m_closing.load() || give_up();
          });
    } catch (const WorkerStartError& error) {
      ++state.failures;
      if (m_closing || give_up()) {
        return Start::gave_up;
      }
      state.start_error = error.what();
      set_unavailable(state, true);
      logger()->error("worker {} could not be started: {}; trying again in {:.1f} s",
                      slot + 1,
                      error.what(),
                      seconds(restart_delay(state.failures)));
      if (!retry) {
        return Start::failed;
      }
      continue;
    }
    {
      const std::lock_guard lock(state.pid_mutex);
      state.pid = state.process->pid();
    }
    state.plugins = plugins;
    if (state.started_before) {
      ++m_state.worker_restarts;
      logger()->info("worker {} started again (pid {}, plugins generation {})",
                     slot + 1,
                     state.process->pid(),
                     plugins->generation());
    } else {
      SPDLOG_LOGGER_DEBUG(logger(),
                          "worker {} started (pid {}, plugins generation {})",
                          slot + 1,
                          state.process->pid(),
                          plugins->generation());
    }
    state.started_before = true;
    if (m_closing) {
      // abandon() may have looked at this slot before its pid was set.
      retire(slot);
      return Start::gave_up;
    }
    set_unavailable(state, false);
    return Start::started;
  }
}

std::string ProcessRunner::retire(int slot) {
  Slot& state = *m_slots[static_cast<std::size_t>(slot)];
  {
    // From here on abandon() leaves the pid alone: reap() below frees it for reuse.
    const std::lock_guard lock(state.pid_mutex);
    state.pid = 0;
  }
  std::string how = state.process->reap();
  state.process.reset();
  state.plugins.reset(); // the last holder of an old generation unloads it here
  return how;
}

Outcome ProcessRunner::failed_attempt(const ClaimedTask& task, std::string error) const {
  const plugin::Handler* handler = task.plugins->registry().find(task.name);
  Outcome outcome;
  outcome.id = task.id;
  outcome.claim = task.claim;
  outcome.status = OutcomeStatus::retry; // a retry at the last attempt ends the task failed
  outcome.error = std::move(error);
  outcome.retry_in_s = backoff_seconds(
      handler != nullptr ? handler->backoff : m_settings.worker.default_backoff, task.attempt);
  return outcome;
}

std::optional<Outcome>
ProcessRunner::run(int slot, const ClaimedTask& task, const Attempt& attempt) {
  // One job with nothing behind it: the attempt is borrowed for the call.
  class Single final : public JobFeed {
  public:
    std::optional<Job> take_next(bool /*greedy*/,
                                 const std::function<bool(const Job&)>& /*accept*/) override {
      return std::nullopt;
    }
    void put_back(Job job) override { done(std::move(job), std::nullopt); }
    void done(Job /*job*/, std::optional<Outcome> outcome) override {
      m_outcome = std::move(outcome);
    }
    std::optional<Outcome> m_outcome;
  } single;
  run_jobs(slot,
           Job{task, std::shared_ptr<const Attempt>(std::shared_ptr<const Attempt>(), &attempt), 0},
           single);
  return std::move(single.m_outcome);
}

std::string ProcessRunner::run_frame(Slot& state, const Handed& handed) const {
  const ClaimedTask& task = handed.job.task;
  const std::optional<double> timeout =
      attempt_timeout(task, task.plugins->registry().find(task.name), m_settings.task_timeout);
  // Cleared and pending before the worker can read the Run: a stop raised for an earlier
  // Run of this lane must not make this one start stopped.
  state.process->open(handed.seq);
  return worker::encode(worker::Run{.id = task.id,
                                    .name = task.name,
                                    .args = task.args,
                                    .attempt = task.attempt,
                                    .max_attempts = task.max_attempts,
                                    .timeout_s = timeout.value_or(0),
                                    .seq = handed.seq,
                                    .parents = task.parents,
                                    .checkpoint = task.checkpoint});
}

void ProcessRunner::hand_over_more(Slot& state,
                                   std::deque<Handed>& queued,
                                   JobFeed& feed,
                                   bool& pipelining) {
  // The worker runs a handler and reads nothing until it answers: a write that does not fit
  // in its socket would block this thread, and with it the running attempt's stop, timeout
  // and kill, the take-back of what waits behind it, and the reading of its answer. So only
  // small Runs, and only while what the worker has not read (revoked frames it will skip
  // included) stays within the budget, well below the socket's buffer.
  const std::size_t budget = state.process->hand_ahead_budget();
  const std::size_t unread = state.process->unread_bytes();
  std::string frames;
  while (queued.size() < k_pipeline_depth && unread + frames.size() < budget) {
    const std::size_t room = std::min(budget - unread - frames.size(), k_ahead_frame);
    std::optional<Job> job =
        feed.take_next(state.mean_attempt_s < k_greedy_below_s,
                       [&](const Job& next) { return run_frame_size(next.task) <= room; });
    if (!job) {
      break;
    }
    if (job->attempt->stop.load()) {
      feed.done(std::move(*job), std::nullopt); // cancelled or lost while it waited
      continue;
    }
    if (job->task.plugins != state.plugins) {
      // Claimed under other plugins (a reload): this worker cannot run it.
      feed.put_back(std::move(*job));
      pipelining = false;
      break;
    }
    Handed handed{std::move(*job), state.next_seq++};
    frames += run_frame(state, handed);
    queued.push_back(std::move(handed));
  }
  // A worker that is gone is seen by the next wait, which takes these back.
  if (!frames.empty()) {
    (void)state.process->send_frames(frames);
  }
  feed.pass_on(); // what this worker does not take now
}

void ProcessRunner::take_back(Slot& state,
                              std::deque<Handed>& queued,
                              JobFeed& feed,
                              const std::function<bool(const Handed&)>& which,
                              int worker_ending) {
  std::vector<Job> to_pool; // in claim order
  for (auto it = queued.begin(); it != queued.end();) {
    if (!which(*it) || !state.process->revoke(it->seq)) {
      ++it; // the worker started it: it is the next attempt
      continue;
    }
    Job job = std::move(it->job);
    it = queued.erase(it);
    if (worker_ending > 0) {
      logger()->info("task {} ({}) was waiting in worker {} (pid {}), not started: back to the "
                     "queue, its attempt not counted",
                     job.task.id,
                     job.task.name,
                     worker_ending,
                     state.process->pid());
    }
    if (job.attempt->stop.load() || feed.draining()) {
      feed.done(std::move(job), std::nullopt); // released: its attempt given back
    } else {
      to_pool.push_back(std::move(job)); // another worker runs it, with the same attempt
    }
  }
  // Each goes to the head of the pool's queue: the last first, so that they keep their order
  // (the claim's: priority, then run_at) ahead of what was claimed after them.
  for (auto it = to_pool.rbegin(); it != to_pool.rend(); ++it) {
    feed.put_back(std::move(*it));
  }
}

std::optional<worker::Finished> ProcessRunner::kill_and_settle(int slot,
                                                               const Handed& current,
                                                               std::deque<Handed>& queued,
                                                               JobFeed& feed,
                                                               const std::string& why) {
  Slot& state = *m_slots[static_cast<std::size_t>(slot)];
  const int number = slot + 1;
  const pid_t pid = state.process->pid();
  {
    // From here on abandon() leaves the pid alone: kill() below reaps it.
    const std::lock_guard lock(state.pid_mutex);
    state.pid = 0;
  }
  // Dead and reaped first: from now on no gate changes, so a Run revoked below was never
  // started, and one that cannot be revoked was started before the kill.
  (void)state.process->kill();
  // What it wrote before it died, in order: the current attempt's answer, then those of the
  // Runs it went on to.
  std::optional<worker::Finished> answer;
  bool current_answered = false;
  std::optional<worker::Message> message;
  while (state.process->wait(Clock::now(), message) == WorkerProcess::Event::message) {
    const auto* finished = std::get_if<worker::Finished>(&*message);
    if (const auto* report = std::get_if<worker::Report>(&*message)) {
      // Sent just before the worker died (a checkpoint, say): the next attempt resumes from it.
      // It may be about a Run the worker went on to.
      if (!take_report(*report, current.seq, current.job)) {
        for (const Handed& handed : queued) {
          if (take_report(*report, handed.seq, handed.job)) {
            break;
          }
        }
      }
    }
    if (finished == nullptr) {
      continue;
    }
    if (!current_answered && finished->id == current.job.task.id) {
      answer = *finished;
      current_answered = true;
    } else if (current_answered && !queued.empty() && finished->id == queued.front().job.task.id) {
      Handed handed = std::move(queued.front());
      queued.pop_front();
      std::optional<Outcome> outcome = answered(handed.job, *finished);
      feed.done(std::move(handed.job), std::move(outcome));
    } else {
      break; // not in the order it was sent the Runs: nothing more of it is believed
    }
  }
  // Those it did not start go back uncounted; one it started and did not answer was running
  // when it was killed, and that attempt counts (at shutdown it is released instead).
  take_back(
      state, queued, feed, [](const Handed&) { return true; }, number);
  for (Handed& handed : queued) {
    const ClaimedTask& task = handed.job.task;
    logger()->warn("task {} ({}) attempt {}/{} was running in worker {} (pid {}) when it was "
                   "killed ({})",
                   task.id,
                   task.name,
                   task.attempt,
                   task.max_attempts,
                   number,
                   pid,
                   why);
    if (m_closing || handed.job.attempt->shutting_down.load()) {
      feed.done(std::move(handed.job), std::nullopt);
      continue;
    }
    Outcome outcome = failed_attempt(task,
                                     "killed with worker " + std::to_string(number) + " (pid " +
                                         std::to_string(pid) + ") when " + why);
    outcome.crashed = true; // its worker died under it, by pgtqd's hand
    outcome.name = task.name;
    outcome.attempt = task.attempt;
    outcome.max_attempts = task.max_attempts;
    feed.done(std::move(handed.job), std::move(outcome));
  }
  queued.clear();
  retire(slot);
  return answer;
}

void ProcessRunner::take_back_before_retire(int slot, std::deque<Handed>& queued, JobFeed& feed) {
  Slot& state = *m_slots[static_cast<std::size_t>(slot)];
  take_back(
      state, queued, feed, [](const Handed&) { return true; }, slot + 1);
  // What could not be taken back was started in the worker that ends now, after the attempt
  // that ends it had answered, yet pgtqd read no such answer: a worker that broke the
  // protocol. Given back, its attempt not counted.
  for (Handed& handed : queued) {
    logger()->warn("task {} ({}) given back to the queue: worker {} ended as it started it",
                   handed.job.task.id,
                   handed.job.task.name,
                   slot + 1);
    feed.done(std::move(handed.job), std::nullopt);
  }
  queued.clear();
}

void ProcessRunner::run_jobs(int slot, Job first, JobFeed& feed) {
  Slot& state = *m_slots[static_cast<std::size_t>(slot)];
  const int number = slot + 1;
  retire_if_ended(slot);
  if (state.unavailable) {
    // Waiting here for a worker that may never start would hold the task from every other
    // daemon; the claim loop claims no more until a worker starts.
    logger()->warn("task {} ({}) given back to the queue: worker {} cannot be started ({})",
                   first.task.id,
                   first.task.name,
                   number,
                   state.start_error);
    feed.done(std::move(first), std::nullopt);
    feed.pass_on(); // a burst's other jobs, which this thread was woken for too
    return;
  }
  if (!state.process || state.plugins != first.task.plugins) {
    feed.pass_on(); // starting a worker takes a while: the jobs behind go elsewhere
  }
  const Start started = ensure_started(
      slot,
      [&] { return first.task.plugins; },
      [&] { return first.attempt->stop.load(); },
      [] { return false; },
      false);
  if (started == Start::failed) {
    logger()->warn("task {} ({}) given back to the queue: worker {} cannot be started",
                   first.task.id,
                   first.task.name,
                   number);
  }
  if (started != Start::started) {
    feed.done(std::move(first), std::nullopt);
    feed.pass_on();
    return;
  }
  const pid_t pid = state.process->pid();
  Handed current{std::move(first), state.next_seq++};
  if (!state.process->send_frames(run_frame(state, current))) {
    // It died between the look above and now: the task never reached it.
    const std::string how = retire(slot);
    ++state.failures;
    logger()->warn("worker {} (pid {}) {} before it got task {}; giving the task back",
                   number,
                   pid,
                   how,
                   current.job.task.id);
    feed.done(std::move(current.job), std::nullopt);
    feed.pass_on();
    return;
  }
  // Runs sent behind the current one: the worker starts each as soon as it has answered the
  // one before, without waiting for this thread.
  std::deque<Handed> queued;
  bool passed_on = false; // once per call at least: a burst's jobs beyond this slot's

  for (;;) { // one attempt after the other: the current one, then the next queued
    const ClaimedTask& task = current.job.task;
    const Attempt& attempt = *current.job.attempt;
    const std::atomic<bool>& stop = attempt.stop;
    const std::optional<double> timeout =
        attempt_timeout(task, task.plugins->registry().find(task.name), m_settings.task_timeout);
    SPDLOG_LOGGER_DEBUG(logger(),
                        "task {} ({}) attempt {}/{} started in worker {} (pid {})",
                        task.id,
                        task.name,
                        task.attempt,
                        task.max_attempts,
                        number,
                        pid);
    // A queued attempt started when the worker answered the one before: about now.
    const auto started_at = Clock::now();
    auto finish = [&](Outcome outcome) {
      outcome.name = task.name;
      outcome.attempt = task.attempt;
      outcome.max_attempts = task.max_attempts;
      outcome.duration_s = seconds(Clock::now() - started_at);
      return outcome;
    };
    auto end_attempt = [&](std::optional<Outcome> outcome) {
      feed.done(std::move(current.job), std::move(outcome));
    };
    // Without a timeout, never (time_point::max() is never reached).
    const Clock::time_point deadline =
        timeout ? started_at + to_clock_duration(*timeout) : Clock::time_point::max();
    const Clock::time_point timeout_kill_at =
        timeout ? deadline + m_settings.timeout_grace : Clock::time_point::max();
    // Set when the stop flag is first seen: the handler has timeout_grace from then on.
    Clock::time_point stop_kill_at = Clock::time_point::max();
    bool stop_sent = false;
    bool timed_out = false;
    bool out_of_memory = false;
    bool last_look = false; // at kill time: one more look for an answer that just came in
    // This attempt may have the next tasks queued behind it, unless the slot's recent
    // attempts ran long: they would only be taken back k_queued_wait later, and meanwhile the
    // claim loop, deciding which held tasks to give back, would not see them.
    bool pipelining = state.mean_attempt_s < seconds(k_queued_wait);
    bool next_attempt = false;
    while (!next_attempt) {
      auto now = Clock::now();
      // Once this attempt runs long, nothing more waits behind it, whatever arrives later:
      // a Run handed over now would be taken back at once and left unread in the socket.
      const bool long_attempt = now - started_at >= k_queued_wait;
      if (long_attempt) {
        pipelining = false;
      }
      // Queued tasks that were cancelled or lost their lease, or all of them at a drain, go
      // back unstarted; all of them when this attempt runs long, to wait for another worker
      // instead of behind it.
      if (!queued.empty()) {
        take_back(state, queued, feed, [&](const Handed& handed) {
          return long_attempt || feed.draining() || handed.job.attempt->stop.load();
        });
      }
      if (pipelining && !stop_sent && !timed_out && !m_closing) {
        hand_over_more(state, queued, feed, pipelining); // passes on what it leaves
        passed_on = true;
      } else if (!passed_on) {
        feed.pass_on(); // the jobs of this burst that this slot does not take
        passed_on = true;
      }
      if (!stop_sent && stop.load()) {
        state.process->set_stop(current.seq);
        stop_sent = true;
        if (stop_kill_at == Clock::time_point::max()) {
          // Fenced: another daemon may run the task in moments, so no grace.
          stop_kill_at = attempt.fenced.load() ? now : now + m_settings.timeout_grace;
        }
      }
      const auto kill_at = std::min(timeout_kill_at, stop_kill_at);
      auto until =
          last_look ? now : std::min({now + k_stop_poll, timed_out ? kill_at : deadline, kill_at});
      if (!queued.empty() && pipelining) {
        until = std::min(until, started_at + k_queued_wait);
      }
      std::optional<worker::Message> message;
      const auto event = state.process->wait(until, message);
      if (event == WorkerProcess::Event::message) {
        if (const auto* finished = std::get_if<worker::Finished>(&*message)) {
          if (finished->id != task.id) {
            logger()->error("worker {} (pid {}) answered for task {} while running task {}; "
                            "replacing it",
                            number,
                            pid,
                            finished->id,
                            task.id);
            (void)kill_and_settle(slot, current, queued, feed, "it broke the protocol");
            end_attempt(finish(failed_attempt(
                task, "worker " + std::to_string(number) + " answered for another task")));
            return;
          }
          state.failures = 0;
          Outcome outcome = outcome_of(task, *finished);
          const bool recycle = finished->recycle;
          const double duration_s = finished->duration_s;
          state.mean_attempt_s += 0.25 * (std::max(duration_s, 0.0) - state.mean_attempt_s);
          m_short_attempts.store(state.mean_attempt_s < k_greedy_below_s,
                                 std::memory_order_relaxed);
          if (recycle) {
            // Its heap ran out; a new process starts clean (ensure_started counts the
            // restart). It exits without starting what was queued behind this attempt.
            take_back_before_retire(slot, queued, feed);
            retire(slot);
            logger()->warn("worker {} (pid {}) ran out of memory ({}) running task {} ({}); "
                           "replacing it",
                           number,
                           pid,
                           memory_limit_text(),
                           task.id,
                           task.name);
          }
          if (attempt.shutting_down.load() &&
              (outcome.status == OutcomeStatus::retry || outcome.status == OutcomeStatus::snooze)) {
            // Stopped by the shutdown and not done: released, its attempt given back.
            end_attempt(std::nullopt);
          } else {
            Outcome done = finish(std::move(outcome));
            done.duration_s = duration_s;
            end_attempt(std::move(done));
          }
          if (queued.empty()) {
            return;
          }
          // The worker went on to the next Run by itself.
          current = std::move(queued.front());
          queued.pop_front();
          next_attempt = true;
          continue;
        }
        if (std::holds_alternative<worker::OutOfMemory>(*message)) {
          out_of_memory = true;
        }
        if (const auto* report = std::get_if<worker::Report>(&*message)) {
          take_report(*report, current.seq, current.job);
        }
        continue;
      }
      if (event == WorkerProcess::Event::ended) {
        // Dead first: a worker said to have ended may still live (it broke the protocol, or
        // closed its end), and no gate may change once the Runs are sorted below.
        {
          // From here on abandon() leaves the pid alone: kill() reaps it.
          const std::lock_guard lock(state.pid_mutex);
          state.pid = 0;
        }
        (void)state.process->kill();
        // The Runs behind this one were never decoded (a worker reads the next Run only after
        // it answered this one): they go back, their attempts not counted.
        take_back_before_retire(slot, queued, feed);
        // This one may not have started either: the worker died after it answered the one
        // before (or after it was sent this one) and before it took this one's gate.
        const bool never_started = state.process->revoke(current.seq);
        const std::string how = retire(slot);
        if (m_closing || attempt.shutting_down.load()) {
          end_attempt(std::nullopt); // pgtqd ended it at shutdown: given back
          return;
        }
        ++state.failures; // the death counts against the slot (its restart backoff)
        ++m_state.worker_crashes;
        // Given back uncounted, like the Runs behind it, but not forever: a Run that kills
        // every worker that reads it (decoding it, say) must end failed, not loop, so the
        // third such death counts the attempt.
        if (never_started && current.job.deaths_before_start < k_deaths_before_start) {
          ++current.job.deaths_before_start;
          logger()->warn("worker {} (pid {}) {} before it started task {} ({}); back to the "
                         "queue, its attempt not counted; starting another",
                         number,
                         pid,
                         how,
                         task.id,
                         task.name);
          if (attempt.stop.load() || feed.draining()) {
            end_attempt(std::nullopt);
          } else {
            feed.put_back(std::move(current.job));
          }
          return;
        }
        logger()->warn("worker {} (pid {}) {} while running task {} ({}) attempt {}/{}; "
                       "starting another",
                       number,
                       pid,
                       how,
                       task.id,
                       task.name,
                       task.attempt,
                       task.max_attempts);
        std::string error = how + " (worker " + std::to_string(number) + ", pid " +
                            std::to_string(pid) + ", died running this attempt)";
        if (out_of_memory) {
          error = "out of memory: the worker reached " + memory_limit_text() + ", then " + error;
        }
        Outcome crash = failed_attempt(task, std::move(error));
        crash.crashed = true;
        end_attempt(finish(std::move(crash)));
        return;
      }
      // A timeout of the wait: look at the clock.
      now = Clock::now();
      if (!timed_out && now >= deadline) {
        timed_out = true;
        logger()->warn("task {} ({}) timed out after {:g} s in worker {} (pid {}): should_stop() "
                       "is true now; the worker is killed in {:g} s unless the handler returns",
                       task.id,
                       task.name,
                       *timeout,
                       number,
                       pid,
                       seconds(m_settings.timeout_grace));
        // No stop from here: the worker turns should_stop() true at its own deadline (the Run
        // carries the timeout) and says "timed out" in the outcome. A stop from this clock
        // could reach the handler first and make its outcome read as a plain stop request.
      }
      if (now >= kill_at && !last_look) {
        // A Finished that arrived since the wait ended is the attempt's outcome, not a kill.
        last_look = true;
        continue;
      }
      if (now >= kill_at && timed_out && timeout_kill_at <= stop_kill_at) {
        const std::string why = "task " + std::to_string(task.id) + " overran its timeout";
        if (const auto answer = kill_and_settle(slot, current, queued, feed, why)) {
          end_attempt(answered(current.job, *answer)); // it answered as it was killed
          return;
        }
        ++state.failures;
        ++m_state.worker_timeouts;
        logger()->warn("worker {} (pid {}) killed: task {} ({}) attempt {}/{} ran {:g} s past "
                       "its timeout; starting another",
                       number,
                       pid,
                       task.id,
                       task.name,
                       task.attempt,
                       task.max_attempts,
                       seconds(m_settings.timeout_grace));
        Outcome overran =
            failed_attempt(task,
                           timed_out_text(*timeout) + " (worker " + std::to_string(number) +
                               " killed after a grace of " +
                               fmt::format("{:g}", seconds(m_settings.timeout_grace)) + " s)");
        overran.timed_out = true;
        end_attempt(finish(std::move(overran)));
        return;
      }
      if (now >= kill_at) {
        // Asked to stop, and still running timeout_grace later. Not a fault of the slot: its
        // next worker starts at once.
        const std::string stopped = "task " + std::to_string(task.id) + " ignored its stop";
        if (const auto answer = kill_and_settle(slot, current, queued, feed, stopped)) {
          end_attempt(answered(current.job, *answer)); // it answered as it was killed
          return;
        }
        const bool cancelled = attempt.cancelled.load();
        if (attempt.fenced.load() && !cancelled && !attempt.shutting_down.load()) {
          logger()->warn("worker {} (pid {}) killed: task {} ({}) attempt {}/{} may start on "
                         "another pgtqd now (this one's database session ended); starting "
                         "another",
                         number,
                         pid,
                         task.id,
                         task.name,
                         task.attempt,
                         task.max_attempts);
          end_attempt(std::nullopt);
          return;
        }
        const char* why = attempt.shutting_down.load() ? "the shutdown"
                          : cancelled                  ? "a cancellation"
                                                       : "the loss of its lease";
        logger()->warn("worker {} (pid {}) killed: task {} ({}) attempt {}/{} did not return "
                       "within {:g} s (timeout-grace) of its stop for {}; starting another",
                       number,
                       pid,
                       task.id,
                       task.name,
                       task.attempt,
                       task.max_attempts,
                       seconds(m_settings.timeout_grace),
                       why);
        if (!cancelled || attempt.shutting_down.load()) {
          // The lease is gone (nothing to record), or the shutdown releases the task.
          end_attempt(std::nullopt);
          return;
        }
        end_attempt(
            finish(failed_attempt(task,
                                  "cancelled: the handler did not return within " +
                                      fmt::format("{:g}", seconds(m_settings.timeout_grace)) +
                                      " s (timeout-grace) of the request; worker " +
                                      std::to_string(number) + " killed")));
        return;
      }
      if (m_closing) {
        if (const auto answer = kill_and_settle(slot, current, queued, feed, "the shutdown")) {
          end_attempt(answered(current.job, *answer));
          return;
        }
        end_attempt(std::nullopt); // pgtqd stopped its worker at shutdown: given back
        return;
      }
    }
  }
}

void ProcessRunner::abandon() {
  {
    const std::lock_guard lock(m_mutex);
    m_closing = true;
  }
  m_closed.notify_all();
  for (const auto& slot : m_slots) {
    const std::lock_guard lock(slot->pid_mutex);
    if (slot->pid > 0) {
      // Not reaped yet (retire() clears pid first): still this worker's pid. Its pool
      // thread sees it end and reaps it.
      ::kill(slot->pid, SIGKILL);
    }
  }
  // A signal is delivered, not suffered, at once: wait (a little) until each has ended, so
  // that no Run waiting in a worker can start once this returns and the caller releases the
  // tasks (a second stop request). Left unreaped for its pool thread (WNOWAIT).
  const auto until = Clock::now() + k_abandon_wait;
  for (const auto& slot : m_slots) {
    const std::lock_guard lock(slot->pid_mutex);
    while (slot->pid > 0 && Clock::now() < until) {
      siginfo_t info{};
      if (::waitid(P_PID, static_cast<id_t>(slot->pid), &info, WEXITED | WNOHANG | WNOWAIT) != 0 ||
          info.si_pid == slot->pid) {
        break; // ended (or not a child of ours any more)
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  }
}

} // namespace pgtq::queue
