// A pgtq_host_api table backed by plain structs, so plugin.hpp and built plugins can be
// driven without pgtqd or a database.
#ifndef PGTQ_TESTS_UNIT_TEST_PLUGIN_FAKE_HOST_HPP
#define PGTQ_TESTS_UNIT_TEST_PLUGIN_FAKE_HOST_HPP

#include <pgtq/plugin.hpp>

#include <rapidjson/document.h>

#include <cstdint>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

namespace pgtq::test {

struct FakeTask {
  std::string name = "task";
  std::int64_t id = 7;
  std::int32_t attempt = 1;
  std::string args = "[]";
  bool stop = false;

  std::optional<std::string> result;
  std::optional<std::string> error;
  std::optional<double> retry_delay;

  pgtq_task* handle() { return reinterpret_cast<pgtq_task*>(this); }
  static FakeTask& of(pgtq_task* task) { return *reinterpret_cast<FakeTask*>(task); }
  static const FakeTask& of(const pgtq_task* task) {
    return *reinterpret_cast<const FakeTask*>(task);
  }
};

struct Outcome {
  pgtq_status status;
  FakeTask task;
};

class FakeHost {
public:
  FakeHost() {
    m_api.struct_size = sizeof(pgtq_host_api);
    m_api.abi_major = PGTQ_ABI_MAJOR;
    m_api.abi_minor = PGTQ_ABI_MINOR;
    m_api.log = [](pgtq_host* host, int level, const char* msg, size_t len) {
      self(host).logs.emplace_back(level, std::string(msg, len));
    };
    m_api.register_handler = [](pgtq_host* host, const pgtq_handler* handler) {
      FakeHost& fake = self(host);
      if (fake.refuse.count(handler->name) != 0 || fake.find(handler->name) != nullptr) {
        return -1;
      }
      fake.handlers.push_back(*handler);
      fake.names.emplace_back(handler->name);
      return 0;
    };
    m_api.task_args = [](const pgtq_task* task, const char** json, size_t* len) {
      *json = FakeTask::of(task).args.c_str();
      *len = FakeTask::of(task).args.size();
    };
    m_api.task_name = [](const pgtq_task* task) { return FakeTask::of(task).name.c_str(); };
    m_api.task_id = [](const pgtq_task* task) { return FakeTask::of(task).id; };
    m_api.task_attempt = [](const pgtq_task* task) { return FakeTask::of(task).attempt; };
    m_api.task_set_result = [](pgtq_task* task, const char* json, size_t len) {
      // Valid JSON whatever its numbers' size, as pgtqd checks it.
      bool risky = false;
      const std::string_view text(json, len);
      const auto numbers = pgtq::detail::find_numbers(text, &risky);
      const std::string checked =
          risky ? pgtq::detail::with_plain_numbers(text, numbers) : std::string(text);
      rapidjson::Document check;
      check.Parse(checked.data(), checked.size());
      if (check.HasParseError()) {
        return -1;
      }
      FakeTask::of(task).result = std::string(json, len);
      return 0;
    };
    m_api.task_set_error = [](pgtq_task* task, const char* msg, size_t len) {
      FakeTask::of(task).error = std::string(msg, len);
    };
    m_api.task_set_retry_delay = [](pgtq_task* task, double seconds) {
      FakeTask::of(task).retry_delay = seconds;
    };
    m_api.task_should_stop = [](const pgtq_task* task) { return FakeTask::of(task).stop ? 1 : 0; };
    m_api.register_schedule = [](pgtq_host* host, const pgtq_schedule* schedule) {
      auto text = [](const char* value) { return std::string(value == nullptr ? "-" : value); };
      self(host).schedules.push_back(text(schedule->name) + " " + text(schedule->queue) + " " +
                                     text(schedule->task) + " " + text(schedule->args) + " " +
                                     text(schedule->cron) + " " +
                                     std::to_string(schedule->every_s) + " " +
                                     text(schedule->time_zone) + " " + text(schedule->catch_up));
      return 0;
    };
  }

  FakeHost(const FakeHost&) = delete;
  FakeHost& operator=(const FakeHost&) = delete;
  ~FakeHost() { unload(); }

  pgtq_host_api& api() { return m_api; }
  pgtq_host* host() { return reinterpret_cast<pgtq_host*>(this); }

  // Runs setup the way PGTQ_PLUGIN's init() does; returns init()'s value.
  template <class Setup> int load(Setup&& setup, std::string_view config = "") {
    return pgtq::detail::init_plugin(
        m_state, &m_api, host(), config.data(), config.size(), std::forward<Setup>(setup));
  }

  // What pgtqd does at shutdown: destroy every handler, then fini().
  void unload() {
    for (const pgtq_handler& handler : handlers) {
      if (handler.destroy != nullptr) {
        handler.destroy(handler.user_data);
      }
    }
    handlers.clear();
    names.clear();
    pgtq::detail::fini_plugin(m_state);
  }

  const pgtq_handler* find(const std::string& name) const {
    for (std::size_t i = 0; i < handlers.size(); ++i) {
      if (names[i] == name) {
        return &handlers[i];
      }
    }
    return nullptr;
  }

  Outcome run(const std::string& name, std::string args, FakeTask task = {}) const {
    const pgtq_handler* handler = find(name);
    if (handler == nullptr) {
      throw std::logic_error("no handler " + name);
    }
    task.name = name;
    task.args = std::move(args);
    const pgtq_status status = handler->handle(handler->user_data, task.handle());
    return {status, std::move(task)};
  }

  std::vector<pgtq_handler> handlers;
  std::vector<std::string> names;
  // "name queue task args cron every_s time_zone catch_up" per registered schedule ("-": NULL).
  std::vector<std::string> schedules; // handler names, copied as pgtqd does
  std::vector<std::pair<int, std::string>> logs;
  std::set<std::string> refuse;

private:
  static FakeHost& self(pgtq_host* host) { return *reinterpret_cast<FakeHost*>(host); }

  pgtq_host_api m_api{};
  pgtq::detail::PluginState m_state{};
};

} // namespace pgtq::test

#endif
