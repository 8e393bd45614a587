#include "app/logging.hpp"

#include "queue/log_context.hpp"

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <cstdlib>

namespace pgtq::app {
namespace {

// "%P" -> "<N>", the syslog priority of the line, which journald reads off stderr lines.
class SyslogPriorityFlag : public spdlog::custom_flag_formatter {
public:
  void format(const spdlog::details::log_msg& message,
              const std::tm&,
              spdlog::memory_buf_t& destination) override {
    const char* prefix = "<6>";
    switch (message.level) {
    case spdlog::level::trace:
    case spdlog::level::debug:
      prefix = "<7>";
      break;
    case spdlog::level::warn:
      prefix = "<4>";
      break;
    case spdlog::level::err:
      prefix = "<3>";
      break;
    case spdlog::level::critical:
      prefix = "<2>";
      break;
    default:
      break;
    }
    destination.append(prefix, prefix + 3);
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<SyslogPriorityFlag>();
  }
};

// "%Q" -> "[emails]", the queue the logging thread works for (queue/log_context.hpp), or
// nothing.
class QueueFlag : public spdlog::custom_flag_formatter {
public:
  void format(const spdlog::details::log_msg&,
              const std::tm&,
              spdlog::memory_buf_t& destination) override {
    const std::string& queue = queue::log_queue();
    if (!queue.empty()) {
      destination.push_back('[');
      destination.append(queue.data(), queue.data() + queue.size());
      destination.push_back(']');
    }
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<QueueFlag>();
  }
};

} // namespace

void setup_logging(const std::string& level, const std::string& process) {
  const std::string label = process.empty() ? "" : process + " ";
  const bool under_journald = std::getenv("JOURNAL_STREAM") != nullptr;
  auto sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>(
      under_journald ? spdlog::color_mode::never : spdlog::color_mode::automatic);
  for (const char* name : {"app", "db", "queue", "scheduler", "plugin"}) {
    if (spdlog::get(name)) {
      continue;
    }
    auto logger = std::make_shared<spdlog::logger>(name, sink);
    auto formatter = std::make_unique<spdlog::pattern_formatter>();
    // The journal timestamps lines itself; a terminal needs the time in the line.
    formatter->add_flag<SyslogPriorityFlag>('P').add_flag<QueueFlag>('Q').set_pattern(
        under_journald ? "%P" + label + "%n%Q: %v"
                       : "%Y-%m-%d %H:%M:%S.%e %^%l%$ " + label + "%n%Q: %v");
    logger->set_formatter(std::move(formatter));
    spdlog::register_logger(logger);
  }
  spdlog::set_default_logger(spdlog::get("app"));
  spdlog::set_level(spdlog::level::from_str(level));
}

} // namespace pgtq::app
