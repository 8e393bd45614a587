#pragma once

#include <chrono>

namespace pgtq::app {

enum class Signal { none, terminate, hangup };

// SIGTERM, SIGINT and SIGHUP are blocked in every thread (call before starting any) and
// taken synchronously by the main loop, so no handler runs at an arbitrary point.
void block_signals();
// Waits up to timeout for one of them.
Signal wait_for_signal(std::chrono::milliseconds timeout);

// On SIGSEGV, SIGBUS, SIGFPE, SIGILL or SIGABRT, writes which task the crashing thread
// was running (a plugin crashed the daemon) before dying as the signal says.
void install_crash_reporter();

} // namespace pgtq::app
