#include "queue/stop_page.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <new>
#include <system_error>

namespace pgtq::queue {
namespace {

// Shared between processes, the flag must not need a lock kept in either of them.
static_assert(std::atomic<bool>::is_always_lock_free);

[[noreturn]] void throw_errno(const char* what) {
  throw std::system_error(errno, std::system_category(), what);
}

std::size_t page_size() {
  return static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
}

} // namespace

StopPage StopPage::create() {
  plugin::UniqueFd fd(::memfd_create("pgtqd-stop", MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (fd.get() < 0) {
    throw_errno("memfd_create");
  }
  if (::ftruncate(fd.get(), static_cast<off_t>(page_size())) != 0) {
    throw_errno("ftruncate");
  }
  void* page = ::mmap(nullptr, page_size(), PROT_READ | PROT_WRITE, MAP_SHARED, fd.get(), 0);
  if (page == MAP_FAILED) {
    throw_errno("mmap");
  }
  StopPage created(std::move(fd), page);
  if (::fcntl(created.fd(), F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0) {
    throw_errno("F_ADD_SEALS");
  }
  new (page) std::atomic<bool>(false);
  return created;
}

StopPage StopPage::map(plugin::UniqueFd fd) {
  void* page = ::mmap(nullptr, page_size(), PROT_READ, MAP_SHARED, fd.get(), 0);
  if (page == MAP_FAILED) {
    throw_errno("mmap");
  }
  return StopPage(plugin::UniqueFd(), page);
}

StopPage::~StopPage() {
  if (m_page != nullptr) {
    ::munmap(m_page, page_size());
  }
}

StopPage::StopPage(StopPage&& other) noexcept : m_fd(std::move(other.m_fd)), m_page(other.m_page) {
  other.m_page = nullptr;
}

StopPage& StopPage::operator=(StopPage&& other) noexcept {
  if (this != &other) {
    if (m_page != nullptr) {
      ::munmap(m_page, page_size());
    }
    m_fd = std::move(other.m_fd);
    m_page = other.m_page;
    other.m_page = nullptr;
  }
  return *this;
}

} // namespace pgtq::queue
