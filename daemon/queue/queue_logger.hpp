#pragma once

#include <spdlog/spdlog.h>

#include <memory>

namespace pgtq::queue {

// The "queue" logger that app/logging.cpp registers, or spdlog's default one where nothing
// registered it (the unit and integration tests of queue/ parts).
inline std::shared_ptr<spdlog::logger> logger() {
  auto found = spdlog::get("queue");
  return found ? found : spdlog::default_logger();
}

// The "scheduler" logger (the scheduler thread's parts), likewise.
inline std::shared_ptr<spdlog::logger> scheduler_logger() {
  auto found = spdlog::get("scheduler");
  return found ? found : spdlog::default_logger();
}

} // namespace pgtq::queue
