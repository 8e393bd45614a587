#pragma once

#include <dirent.h>
#include <sys/types.h>

#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace pgtq::test {

// The whole of a (small) file, "" when it cannot be read: /proc entries.
inline std::string read_text(const std::string& path) {
  std::ifstream file(path);
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

// The processes whose parent is pid (pgtqd's worker processes).
inline std::vector<pid_t> children(pid_t pid) {
  std::vector<pid_t> found;
  DIR* proc = ::opendir("/proc");
  while (const dirent* entry = ::readdir(proc)) {
    const std::string name = entry->d_name;
    if (name.find_first_not_of("0123456789") != std::string::npos) {
      continue;
    }
    // /proc/PID/stat: "pid (comm) state ppid ..."; comm may hold spaces and parentheses.
    const std::string stat = read_text("/proc/" + name + "/stat");
    const std::size_t close = stat.rfind(')');
    if (close == std::string::npos) {
      continue;
    }
    std::istringstream rest(stat.substr(close + 2));
    char state = 0;
    pid_t parent = 0;
    rest >> state >> parent;
    if (parent == pid) {
      found.push_back(static_cast<pid_t>(std::stoi(name)));
    }
  }
  ::closedir(proc);
  return found;
}

// pgtqd's debug line when a worker takes a task up: "task 12 (nap) attempt 1/5 started".
inline std::string
started(const std::string& id, const std::string& name, const std::string& attempts) {
  return "task " + id + " (" + name + ") attempt " + attempts + " started";
}

} // namespace pgtq::test
