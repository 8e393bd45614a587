#pragma once

#include "app/config.hpp"

namespace pgtq::app {

// Exit codes: 0 after a clean shutdown, 1 for a runtime failure, 78 (EX_CONFIG) for bad
// configuration or an incompatible schema, which systemd is told not to restart on.
inline constexpr int k_exit_ok = 0;
inline constexpr int k_exit_failure = 1;
inline constexpr int k_exit_config = 78;

// pgtqd: loads the plugins, checks the schema, runs the claim loop, the workers and the
// scheduler, speaks sd_notify, and shuts down on SIGTERM/SIGINT.
class App {
public:
  explicit App(Config config) : m_config(std::move(config)) {}
  int run();

private:
  Config m_config;
};

} // namespace pgtq::app
