#include "app/systemd_notifier.hpp"

#include <spdlog/spdlog.h>
#include <systemd/sd-daemon.h>

#include <ctime>

namespace pgtq::app {

SystemdNotifier::SystemdNotifier() {
  std::uint64_t usec = 0;
  // 0 unset_environment: child processes (none today) would inherit the same settings.
  if (sd_watchdog_enabled(0, &usec) > 0 && usec > 0) {
    m_watchdog_interval = std::chrono::microseconds(usec / 2);
  }
}

void SystemdNotifier::send(const std::string& message) {
  const int sent = sd_notify(0, message.c_str());
  if (sent < 0) {
    spdlog::debug("sd_notify failed: {}", -sent);
  }
}

void SystemdNotifier::ready(const std::string& status) {
  send("READY=1\nSTATUS=" + status);
}
void SystemdNotifier::status(const std::string& status) {
  send("STATUS=" + status);
}
void SystemdNotifier::stopping(const std::string& status) {
  send("STOPPING=1\nSTATUS=" + status);
}
void SystemdNotifier::reloading(const std::string& status) {
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC, &now);
  const long long usec = static_cast<long long>(now.tv_sec) * 1000000 + now.tv_nsec / 1000;
  send("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(usec) + "\nSTATUS=" + status);
}
void SystemdNotifier::watchdog() {
  send("WATCHDOG=1");
}

} // namespace pgtq::app
