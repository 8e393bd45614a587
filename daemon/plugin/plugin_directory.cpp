#include "plugin/plugin_directory.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <system_error>

#ifndef MFD_NOEXEC_SEAL
#define MFD_NOEXEC_SEAL 0x0008U // Linux 6.3; older kernels refuse it and get a plain memfd
#endif

namespace pgtq::plugin {
namespace {

std::string errno_text(int number) {
  return std::system_category().message(number);
}

std::string kind_of(mode_t mode) {
  switch (mode & S_IFMT) {
  case S_IFDIR:
    return "a directory";
  case S_IFIFO:
    return "a FIFO";
  case S_IFSOCK:
    return "a socket";
  case S_IFCHR:
    return "a character device";
  case S_IFBLK:
    return "a block device";
  case S_IFLNK:
    return "a symlink";
  default:
    return "not a regular file";
  }
}

// Owned by root or by us, and writable by no one else: what StrictModes asks of ~/.ssh.
// Returns what is wrong, or an empty string.
std::string unsafe_because(const struct stat& status, bool may_be_sticky) {
  const uid_t self = ::geteuid();
  if (status.st_uid != 0 && status.st_uid != self) {
    return "is owned by uid " + std::to_string(status.st_uid) + ", neither root nor uid " +
           std::to_string(self) + " that pgtqd runs as";
  }
  const bool sticky = (status.st_mode & S_ISVTX) != 0;
  if ((status.st_mode & (S_IWGRP | S_IWOTH)) != 0 && !(may_be_sticky && sticky)) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(status.st_mode & 07777));
    return std::string("is writable by ") +
           ((status.st_mode & S_IWOTH) != 0 ? "everyone" : "its group") + " (mode " + mode + ")";
  }
  return {};
}

std::string canonical(const std::string& path) {
  std::unique_ptr<char, decltype(&std::free)> resolved(::realpath(path.c_str(), nullptr),
                                                       &std::free);
  if (!resolved) {
    throw std::runtime_error("plugin directory " + path + ": " + errno_text(errno));
  }
  return resolved.get();
}

// The directory itself, then every directory above it up to "/".
void check_directory_chain(const std::string& path, const struct stat& status) {
  if (const std::string why = unsafe_because(status, false); !why.empty()) {
    throw std::runtime_error("plugin directory " + path + " " + why +
                             "; fix it, or set plugin-dir-checks = off on a development machine");
  }
  std::string parent = path;
  while (parent.size() > 1) {
    parent.erase(std::max<std::size_t>(parent.rfind('/'), 1));
    struct stat above {};
    if (::stat(parent.c_str(), &above) != 0) {
      throw std::runtime_error("plugin directory " + path + ": " + parent + ": " +
                               errno_text(errno));
    }
    if (const std::string why = unsafe_because(above, true); !why.empty()) {
      throw std::runtime_error("plugin directory " + path + ": the directory " + parent +
                               " above it " + why +
                               "; fix it, or set plugin-dir-checks = off on a development "
                               "machine");
    }
  }
}

} // namespace

UniqueFd& UniqueFd::operator=(UniqueFd&& other) noexcept {
  if (this != &other) {
    if (m_fd >= 0) {
      ::close(m_fd);
    }
    m_fd = other.release();
  }
  return *this;
}

UniqueFd::~UniqueFd() {
  if (m_fd >= 0) {
    ::close(m_fd);
  }
}

int UniqueFd::release() {
  const int fd = m_fd;
  m_fd = -1;
  return fd;
}

std::string fd_path(int fd) {
  return "/proc/self/fd/" + std::to_string(fd);
}

PluginDirectory::PluginDirectory(const std::string& path, bool strict)
    : m_path(canonical(path)), m_strict(strict) {
  m_fd = UniqueFd(::open(m_path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (m_fd.get() < 0) {
    throw std::runtime_error("plugin directory " + path + ": " + errno_text(errno));
  }
  struct stat status {};
  if (::fstat(m_fd.get(), &status) != 0) {
    throw std::runtime_error("plugin directory " + path + ": " + errno_text(errno));
  }
  if (m_strict) {
    check_directory_chain(m_path, status);
  }
}

std::vector<std::string> PluginDirectory::plugin_files() const {
  // fdopendir takes ownership of its descriptor: give it a duplicate.
  const int dup = ::fcntl(m_fd.get(), F_DUPFD_CLOEXEC, 0);
  DIR* dir = dup < 0 ? nullptr : ::fdopendir(dup);
  if (dir == nullptr) {
    const int error = errno;
    if (dup >= 0) {
      ::close(dup);
    }
    throw std::runtime_error("cannot read plugin directory " + m_path + ": " + errno_text(error));
  }
  std::vector<std::string> names;
  errno = 0;
  while (const dirent* entry = ::readdir(dir)) {
    const std::string name = entry->d_name;
    if (name.size() > 3 && name[0] != '.' && name.compare(name.size() - 3, 3, ".so") == 0) {
      names.push_back(name);
    }
  }
  const int error = errno;
  ::closedir(dir);
  if (error != 0) {
    throw std::runtime_error("cannot read plugin directory " + m_path + ": " + errno_text(error));
  }
  std::sort(names.begin(), names.end());
  return names;
}

std::string PluginDirectory::resolve(const std::string& name) const {
  struct stat link {};
  if (::fstatat(m_fd.get(), name.c_str(), &link, AT_SYMLINK_NOFOLLOW) != 0) {
    throw PluginFileError(errno_text(errno));
  }
  if (!S_ISLNK(link.st_mode)) {
    return name;
  }
  std::unique_ptr<char, decltype(&std::free)> resolved(
      ::realpath((m_path + "/" + name).c_str(), nullptr), &std::free);
  if (!resolved) {
    throw PluginFileError("a symlink that leads nowhere (" + errno_text(errno) + ")");
  }
  const std::string target = resolved.get();
  if (target.compare(0, m_path.size() + 1, m_path + "/") != 0) {
    if (m_strict) {
      throw PluginFileError("a symlink to " + target +
                            ", outside the plugin directory; copy the file in instead");
    }
    return target; // absolute: openat ignores the directory
  }
  std::string relative = target.substr(m_path.size() + 1);
  // A target in a subdirectory: each directory on the way must be as safe as the top.
  for (auto slash = relative.find('/'); m_strict && slash != std::string::npos;
       slash = relative.find('/', slash + 1)) {
    const std::string sub = relative.substr(0, slash);
    struct stat status {};
    if (::fstatat(m_fd.get(), sub.c_str(), &status, 0) != 0) {
      throw PluginFileError(sub + ": " + errno_text(errno));
    }
    if (const std::string why = unsafe_because(status, false); !why.empty()) {
      throw PluginFileError("a symlink into " + sub + ", which " + why);
    }
  }
  return relative;
}

UniqueFd PluginDirectory::private_copy(const std::string& name) const {
  const std::string target = resolve(name);
  // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer, forever.
  // O_NOFOLLOW: the last component was resolved above; a symlink put there since is refused.
  UniqueFd file(::openat(
      m_fd.get(), target.c_str(), O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC));
  if (file.get() < 0) {
    throw PluginFileError(errno == ELOOP ? "a symlink (replaced while loading)"
                                         : errno_text(errno));
  }
  // Checked on the opened file, not on its name, so that what is checked is what is read.
  struct stat status {};
  if (::fstat(file.get(), &status) != 0) {
    throw PluginFileError(errno_text(errno));
  }
  if (!S_ISREG(status.st_mode)) {
    throw PluginFileError(kind_of(status.st_mode) + ", not a regular file");
  }
  if (m_strict) {
    if (const std::string why = unsafe_because(status, false); !why.empty()) {
      throw PluginFileError(why + "; fix it, or set plugin-dir-checks = off on a development "
                                  "machine");
    }
  }

  // The name shows in /proc/PID/maps as "/memfd:NAME (deleted)"; the kernel takes 249 bytes.
  const std::string label = name.substr(0, 240);
  UniqueFd copy(::memfd_create(label.c_str(), MFD_CLOEXEC | MFD_ALLOW_SEALING | MFD_NOEXEC_SEAL));
  if (copy.get() < 0 && errno == EINVAL) {
    copy = UniqueFd(::memfd_create(label.c_str(), MFD_CLOEXEC | MFD_ALLOW_SEALING));
  }
  if (copy.get() < 0) {
    throw PluginFileError("cannot make a private copy: memfd_create: " + errno_text(errno));
  }
  char buffer[1 << 16];
  for (;;) {
    const ssize_t got = ::read(file.get(), buffer, sizeof buffer);
    if (got < 0 && errno == EINTR) {
      continue;
    }
    if (got < 0) {
      throw PluginFileError("cannot read: " + errno_text(errno));
    }
    if (got == 0) {
      break;
    }
    for (ssize_t done = 0; done < got;) {
      const ssize_t put = ::write(copy.get(), buffer + done, static_cast<std::size_t>(got - done));
      if (put < 0 && errno != EINTR) {
        throw PluginFileError("cannot make a private copy: " + errno_text(errno));
      }
      done += put > 0 ? put : 0;
    }
  }
  // Sealed: from now on nobody, the plugin included, can change the bytes that are mapped.
  if (::fcntl(copy.get(), F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE | F_SEAL_SEAL) !=
      0) {
    throw PluginFileError("cannot seal the private copy: " + errno_text(errno));
  }
  return copy;
}

} // namespace pgtq::plugin
