#include "metrics/process_figures.hpp"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <ctime>
#include <fstream>
#include <sstream>
#include <string>

namespace pgtq::metrics {
namespace {

// The system's boot time (seconds since the epoch): the wall clock less the time since boot.
// Not /proc/stat's btime: the unit's ProcSubset=pid hides every /proc file but the processes'.
double boot_time() {
  timespec real{};
  timespec since_boot{};
  ::clock_gettime(CLOCK_REALTIME, &real);
  ::clock_gettime(CLOCK_BOOTTIME, &since_boot);
  return static_cast<double>(real.tv_sec - since_boot.tv_sec) +
         static_cast<double>(real.tv_nsec - since_boot.tv_nsec) / 1e9;
}

double count_open_fds() {
  DIR* dir = ::opendir("/proc/self/fd");
  if (dir == nullptr) {
    return 0;
  }
  double count = 0;
  while (const dirent* entry = ::readdir(dir)) {
    count += entry->d_name[0] == '.' ? 0 : 1;
  }
  ::closedir(dir);
  return count - 1; // the directory's own descriptor
}

} // namespace

std::optional<ProcessFigures> read_process_figures() {
  std::ifstream stat_file("/proc/self/stat");
  std::string line;
  if (!std::getline(stat_file, line)) {
    return std::nullopt;
  }
  // Fields after the command name, which is in parentheses and may hold spaces.
  const std::size_t close = line.rfind(')');
  if (close == std::string::npos) {
    return std::nullopt;
  }
  std::istringstream fields(line.substr(close + 2));
  std::string field;
  double utime = 0;
  double stime = 0;
  double start_ticks = 0;
  double vsize = 0;
  double rss_pages = 0;
  // proc(5): state is field 3; utime 14, stime 15, starttime 22, vsize 23, rss 24.
  for (int number = 3; number <= 24 && fields >> field; ++number) {
    switch (number) {
    case 14:
      utime = std::stod(field);
      break;
    case 15:
      stime = std::stod(field);
      break;
    case 22:
      start_ticks = std::stod(field);
      break;
    case 23:
      vsize = std::stod(field);
      break;
    case 24:
      rss_pages = std::stod(field);
      break;
    default:
      break;
    }
  }
  const double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
  const double page = static_cast<double>(::sysconf(_SC_PAGESIZE));
  ProcessFigures figures;
  figures.cpu_seconds = (utime + stime) / ticks;
  figures.resident_bytes = rss_pages * page;
  figures.virtual_bytes = vsize;
  figures.start_time_seconds = boot_time() + start_ticks / ticks;
  figures.open_fds = count_open_fds();
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) == 0) {
    figures.max_fds = static_cast<double>(limit.rlim_cur);
  }
  return figures;
}

} // namespace pgtq::metrics
