#include "proc_stats.hpp"

#include <dirent.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

namespace pgtq::bench {
namespace {

// Fields of /proc/PID/stat after the command name, which may itself hold spaces and
// parentheses: everything up to the last ')' is skipped.
bool stat_fields(pid_t pid, std::string& rest) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(in, line)) {
    return false;
  }
  const auto close = line.rfind(')');
  if (close == std::string::npos) {
    return false;
  }
  rest = line.substr(close + 2);
  return true;
}

} // namespace

Memory memory_of(pid_t pid) {
  Memory memory;
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("VmRSS:", 0) == 0) {
      memory.rss_kib = std::atol(line.c_str() + 6);
    } else if (line.rfind("VmHWM:", 0) == 0) {
      memory.hwm_kib = std::atol(line.c_str() + 6);
    }
  }
  return memory;
}

double cpu_seconds_of(pid_t pid) {
  std::string rest;
  if (!stat_fields(pid, rest)) {
    return 0;
  }
  // After the name: state(3) ppid(4) … utime(14) stime(15); rest starts at field 3.
  std::istringstream fields(rest);
  std::string field;
  long long utime = 0, stime = 0;
  for (int index = 3; index <= 15 && fields >> field; ++index) {
    if (index == 14) {
      utime = std::atoll(field.c_str());
    } else if (index == 15) {
      stime = std::atoll(field.c_str());
    }
  }
  return static_cast<double>(utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
}

pid_t parent_of(pid_t pid) {
  std::string rest;
  if (!stat_fields(pid, rest)) {
    return 0;
  }
  std::istringstream fields(rest);
  std::string state;
  pid_t parent = 0;
  fields >> state >> parent;
  return parent;
}

std::map<pid_t, double> ServerCpu::snapshot() const {
  std::map<pid_t, double> seconds;
  DIR* dir = ::opendir("/proc");
  if (dir == nullptr) {
    return seconds;
  }
  while (const dirent* entry = ::readdir(dir)) {
    const pid_t pid = static_cast<pid_t>(std::atol(entry->d_name));
    if (pid > 0 && parent_of(pid) == m_postmaster) {
      seconds[pid] = cpu_seconds_of(pid);
    }
  }
  ::closedir(dir);
  return seconds;
}

double ServerCpu::since_start() const {
  double total = 0;
  for (const auto& [pid, now] : snapshot()) {
    const auto before = m_start.find(pid);
    total += now - (before == m_start.end() ? 0.0 : before->second);
  }
  return total;
}

} // namespace pgtq::bench
