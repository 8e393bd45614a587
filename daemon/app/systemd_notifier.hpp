#pragma once

#include <chrono>
#include <optional>
#include <string>

namespace pgtq::app {

// The sd_notify protocol: READY=1, STATUS=, WATCHDOG=1, STOPPING=1. Does nothing when
// not started by systemd (no $NOTIFY_SOCKET).
class SystemdNotifier {
public:
  SystemdNotifier();

  void ready(const std::string& status);
  void status(const std::string& status);
  void stopping(const std::string& status);
  // RELOADING=1 with MONOTONIC_USEC (what Type=notify-reload asks for): a reload started;
  // ready() says it ended.
  void reloading(const std::string& status);
  void watchdog();
  // How often to send WATCHDOG=1 (half of WatchdogSec=), or nothing when not asked to.
  std::optional<std::chrono::microseconds> watchdog_interval() const { return m_watchdog_interval; }

private:
  void send(const std::string& message);

  std::optional<std::chrono::microseconds> m_watchdog_interval;
};

} // namespace pgtq::app
