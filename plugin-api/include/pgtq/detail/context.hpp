// pgtq::Context: what a running handler may ask of pgtqd about its task.
#ifndef PGTQ_DETAIL_CONTEXT_HPP
#define PGTQ_DETAIL_CONTEXT_HPP

#include "pgtq/detail/errors.hpp"
#include "pgtq/plugin.h"

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace pgtq {

enum class LogLevel {
  debug = PGTQ_LOG_DEBUG,
  info = PGTQ_LOG_INFO,
  warn = PGTQ_LOG_WARN,
  error = PGTQ_LOG_ERROR
};

namespace detail {

inline void host_log(const pgtq_host_api& api,
                     pgtq_host* host,
                     LogLevel level,
                     std::string_view message) noexcept {
  if (PGTQ_HOST_HAS(&api, log)) {
    api.log(host, static_cast<int>(level), message.data(), message.size());
  }
}

} // namespace detail

// Take `pgtq::Context&` as a handler's first parameter to use it. Valid only while the
// handler runs (it wraps the BORROWED pgtq_task); do not keep it or hand it to other threads
// that outlive the call.
class Context {
public:
  Context(const pgtq_host_api& api, pgtq_host* host, pgtq_task* task) noexcept
      : m_api(&api), m_host(host), m_task(task) {}

  std::int64_t id() const noexcept {
    return PGTQ_HOST_HAS(m_api, task_id) ? m_api->task_id(m_task) : 0;
  }
  // 1 on the first run.
  std::int32_t attempt() const noexcept {
    return PGTQ_HOST_HAS(m_api, task_attempt) ? m_api->task_attempt(m_task) : 0;
  }
  std::string_view name() const noexcept {
    const char* name = PGTQ_HOST_HAS(m_api, task_name) ? m_api->task_name(m_task) : nullptr;
    return name != nullptr ? std::string_view(name) : std::string_view();
  }
  // The raw args text (an array or an object).
  std::string_view args() const noexcept {
    const char* json = nullptr;
    std::size_t len = 0;
    if (PGTQ_HOST_HAS(m_api, task_args)) {
      m_api->task_args(m_task, &json, &len);
    }
    return json != nullptr ? std::string_view(json, len) : std::string_view();
  }

  // Poll in long loops; when true, give up with pgtq::Retry so the task runs again later.
  bool should_stop() const noexcept {
    return PGTQ_HOST_HAS(m_api, task_should_stop) && m_api->task_should_stop(m_task) != 0;
  }

  // Overrides the backoff for this attempt's retry or snooze, whatever ends it. Clamped to
  // [0, k_max_delay_s] (100 years); NaN and negative mean at once.
  void set_retry_delay(double seconds) const noexcept {
    if (PGTQ_HOST_HAS(m_api, task_set_retry_delay)) {
      m_api->task_set_retry_delay(m_task, detail::clamp_delay(seconds));
    }
  }

  // The tasks this one depends on (push's depends_on) as JSON text: an array in id order of
  // {"id", "task", "state", "result"}; "[]" without parents, "" from a host older than ABI 1.3.
  std::string_view parents() const noexcept {
    const char* json = nullptr;
    std::size_t len = 0;
    if (PGTQ_HOST_HAS(m_api, task_parents)) {
      m_api->task_parents(m_task, &json, &len);
    }
    return json != nullptr ? std::string_view(json, len) : std::string_view();
  }

  // Pushes a follow-up task, committed with this attempt's outcome if it succeeds, and never
  // otherwise: a JSON object as an element of pgtq.push_many, with an optional "queue" (plugin.h,
  // task_push_followup). False when refused (logged) or the host is older than ABI 1.3.
  bool push_followup(std::string_view json) const noexcept {
    return PGTQ_HOST_HAS(m_api, task_push_followup) &&
           m_api->task_push_followup(m_task, json.data(), json.size()) == 0;
  }

  // Reports progress (any JSON, <= 64 KiB), shown in pgtq.tasks.progress; cheap at any rate.
  // False when refused (logged) or the host is older than ABI 1.3.
  bool set_progress(std::string_view json) const noexcept {
    return PGTQ_HOST_HAS(m_api, task_set_progress) &&
           m_api->task_set_progress(m_task, json.data(), json.size()) == 0;
  }

  // Saves a checkpoint (any JSON, <= 1 MiB) that the next attempt reads with checkpoint().
  bool set_checkpoint(std::string_view json) const noexcept {
    return PGTQ_HOST_HAS(m_api, task_set_checkpoint) &&
           m_api->task_set_checkpoint(m_task, json.data(), json.size()) == 0;
  }

  // The checkpoint an earlier attempt saved, as JSON text; empty when there is none.
  std::string_view checkpoint() const noexcept {
    const char* json = nullptr;
    std::size_t len = 0;
    if (PGTQ_HOST_HAS(m_api, task_checkpoint)) {
      m_api->task_checkpoint(m_task, &json, &len);
    }
    return json != nullptr ? std::string_view(json, len) : std::string_view();
  }

  void log(LogLevel level, std::string_view message) const noexcept {
    detail::host_log(*m_api, m_host, level, message);
  }
  void debug(std::string_view message) const noexcept { log(LogLevel::debug, message); }
  void info(std::string_view message) const noexcept { log(LogLevel::info, message); }
  void warn(std::string_view message) const noexcept { log(LogLevel::warn, message); }
  void error(std::string_view message) const noexcept { log(LogLevel::error, message); }

  // The C level, for anything the wrapper does not cover.
  const pgtq_host_api& api() const noexcept { return *m_api; }
  pgtq_host* host() const noexcept { return m_host; }
  pgtq_task* task() const noexcept { return m_task; }

private:
  const pgtq_host_api* m_api;
  pgtq_host* m_host;
  pgtq_task* m_task;
};

} // namespace pgtq

#endif
