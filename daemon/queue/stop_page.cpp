#include "queue/stop_page.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <new>
#include <system_error>

namespace pgtq::queue {
namespace {

// Shared between processes, the words must not need a lock kept in either of them.
static_assert(std::atomic<bool>::is_always_lock_free);
static_assert(std::atomic<std::uint32_t>::is_always_lock_free);

// A gate word: the Run's number (modulo 2^30) and its state in the two low bits.
enum Gate : std::uint32_t { k_pending = 0, k_started = 1, k_revoked = 2 };

std::uint32_t gate_word(std::uint32_t seq, Gate state) {
  return (seq << 2) | state;
}

[[noreturn]] void throw_errno(const char* what) {
  throw std::system_error(errno, std::system_category(), what);
}

std::size_t page_size() {
  return static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
}

void* map_page(int fd, int protection, std::size_t page) {
  void* mapped = ::mmap(
      nullptr, page_size(), protection, MAP_SHARED, fd, static_cast<off_t>(page * page_size()));
  if (mapped == MAP_FAILED) {
    throw_errno("mmap");
  }
  return mapped;
}

} // namespace

StopPage StopPage::create() {
  plugin::UniqueFd fd(::memfd_create("pgtqd-stop", MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (fd.get() < 0) {
    throw_errno("memfd_create");
  }
  if (::ftruncate(fd.get(), static_cast<off_t>(2 * page_size())) != 0) {
    throw_errno("ftruncate");
  }
  void* flags = map_page(fd.get(), PROT_READ | PROT_WRITE, 0);
  void* gates = nullptr;
  try {
    gates = map_page(fd.get(), PROT_READ | PROT_WRITE, 1);
  } catch (...) {
    ::munmap(flags, page_size());
    throw;
  }
  StopPage created(std::move(fd), flags, gates);
  if (::fcntl(created.fd(), F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) != 0) {
    throw_errno("F_ADD_SEALS");
  }
  for (int lane = 0; lane < k_lanes; ++lane) {
    new (static_cast<std::atomic<bool>*>(flags) + lane) std::atomic<bool>(false);
    new (static_cast<std::atomic<std::uint32_t>*>(gates) + lane)
        std::atomic<std::uint32_t>(gate_word(0, k_revoked));
  }
  return created;
}

StopPage StopPage::map(plugin::UniqueFd fd) {
  void* flags = map_page(fd.get(), PROT_READ, 0);
  void* gates = nullptr;
  try {
    gates = map_page(fd.get(), PROT_READ | PROT_WRITE, 1);
  } catch (...) {
    ::munmap(flags, page_size());
    throw;
  }
  return StopPage(plugin::UniqueFd(), flags, gates);
}

std::atomic<bool>& StopPage::writable_flag(int lane) {
  return static_cast<std::atomic<bool>*>(m_flags)[lane];
}

const std::atomic<bool>& StopPage::flag(std::uint32_t seq) const {
  return static_cast<const std::atomic<bool>*>(m_flags)[lane(seq)];
}

std::atomic<std::uint32_t>& StopPage::gate(int lane) {
  return static_cast<std::atomic<std::uint32_t>*>(m_gates)[lane];
}

void StopPage::open(std::uint32_t seq) {
  writable_flag(lane(seq)).store(false);
  gate(lane(seq)).store(gate_word(seq, k_pending));
}

bool StopPage::revoke(std::uint32_t seq) {
  std::uint32_t expected = gate_word(seq, k_pending);
  return gate(lane(seq)).compare_exchange_strong(expected, gate_word(seq, k_revoked)) ||
         expected == gate_word(seq, k_revoked);
}

bool StopPage::take(std::uint32_t seq) {
  std::uint32_t expected = gate_word(seq, k_pending);
  return gate(lane(seq)).compare_exchange_strong(expected, gate_word(seq, k_started)) ||
         expected == gate_word(seq, k_started);
}

void StopPage::unmap() {
  if (m_flags != nullptr) {
    ::munmap(m_flags, page_size());
    m_flags = nullptr;
  }
  if (m_gates != nullptr) {
    ::munmap(m_gates, page_size());
    m_gates = nullptr;
  }
}

StopPage::~StopPage() {
  unmap();
}

StopPage::StopPage(StopPage&& other) noexcept
    : m_fd(std::move(other.m_fd)), m_flags(other.m_flags), m_gates(other.m_gates) {
  other.m_flags = nullptr;
  other.m_gates = nullptr;
}

StopPage& StopPage::operator=(StopPage&& other) noexcept {
  if (this != &other) {
    unmap();
    m_fd = std::move(other.m_fd);
    m_flags = other.m_flags;
    m_gates = other.m_gates;
    other.m_flags = nullptr;
    other.m_gates = nullptr;
  }
  return *this;
}

} // namespace pgtq::queue
