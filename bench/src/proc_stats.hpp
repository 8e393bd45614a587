#pragma once

// What /proc says about pgtqd and the PostgreSQL server: resident memory and CPU time.

#include <sys/types.h>

#include <map>

namespace pgtq::bench {

struct Memory {
  long rss_kib = 0; // VmRSS: resident now
  long hwm_kib = 0; // VmHWM: the most ever resident
};

// Zero fields when the process is gone.
Memory memory_of(pid_t pid);

// utime + stime in seconds.
double cpu_seconds_of(pid_t pid);

// CPU seconds of every child of the postmaster (backends, walwriter, checkpointer, …),
// taken before and after a figure: the difference is what the server spent on it.
class ServerCpu {
public:
  explicit ServerCpu(pid_t postmaster) : m_postmaster(postmaster) {}
  void start() { m_start = snapshot(); }
  // Seconds since start(); processes that ended in between are not counted.
  double since_start() const;

private:
  std::map<pid_t, double> snapshot() const;
  pid_t m_postmaster;
  std::map<pid_t, double> m_start;
};

pid_t parent_of(pid_t pid);

} // namespace pgtq::bench
