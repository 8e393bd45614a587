#pragma once

#include <stdexcept>
#include <string>
#include <vector>

namespace pgtq::plugin {

// A file descriptor closed at destruction; move-only.
class UniqueFd {
public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : m_fd(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : m_fd(other.release()) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept;
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd();

  int get() const { return m_fd; }
  int release();

private:
  int m_fd = -1;
};

// Why one file of the directory cannot be loaded; the message does not repeat its name.
class PluginFileError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

// The plugin directory, opened once and checked the way OpenSSH's StrictModes checks
// ~/.ssh: the directory, every directory above it and every plugin file must be owned by
// root or by the user pgtqd runs as, and writable by nobody else (a directory above with the
// sticky bit, such as /tmp, may be writable by others). Otherwise whoever could write there
// could run code as pgtqd. With checks off (development) ownership, modes and where
// symlinks lead are not looked at; what is loaded is still only regular files.
//
// A plugin is never loaded from the directory itself: private_copy() copies the checked
// file into a sealed memfd, so replacing or rewriting the file in place (cp, a package
// upgrade) cannot change code the daemon has mapped (SIGBUS, SIGILL), and the file that was
// checked is the file that is loaded.
class PluginDirectory {
public:
  // Throws std::runtime_error naming the directory when it cannot be opened or is unsafe.
  PluginDirectory(const std::string& path, bool strict);

  // The candidates, sorted: names ending in ".so" that do not start with a dot (editors'
  // and package managers' temporary files, hidden files). Anything else is ignored.
  std::vector<std::string> plugin_files() const;

  // Opens name (O_NONBLOCK, so a FIFO cannot block), checks what was opened (fstat: a
  // regular file, owner, mode; a symlink must lead to a file inside the directory) and
  // returns a sealed memfd holding its bytes, for dlopen("/proc/self/fd/N"). Throws
  // PluginFileError saying why the file is refused.
  UniqueFd private_copy(const std::string& name) const;

  const std::string& path() const { return m_path; }

private:
  // The path of name relative to the directory once symlinks are followed; throws when it
  // leads outside (strict) or nowhere.
  std::string resolve(const std::string& name) const;

  std::string m_path; // canonical: no symlinks, no "..", as the checks saw it
  UniqueFd m_fd;
  bool m_strict;
};

// "/proc/self/fd/N": how dlopen() reaches a file this process holds open.
std::string fd_path(int fd);

} // namespace pgtq::plugin
