#include "queue/worker_socket.hpp"

#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <system_error>

namespace pgtq::queue::worker {
namespace {

constexpr std::size_t k_max_fds = 253; // SCM_MAX_FD

[[noreturn]] void throw_errno(const char* what) {
  throw std::system_error(errno, std::system_category(), what);
}

} // namespace

void send_frame(int socket, const std::string& frame, const std::vector<int>& fds) {
  if (fds.size() > k_max_fds) {
    throw std::system_error(EINVAL, std::system_category(), "send_frame: too many descriptors");
  }
  std::size_t sent = 0;
  while (sent < frame.size()) {
    iovec data{const_cast<char*>(frame.data() + sent), frame.size() - sent};
    msghdr header{};
    header.msg_iov = &data;
    header.msg_iovlen = 1;
    alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * k_max_fds)];
    if (sent == 0 && !fds.empty()) {
      header.msg_control = control;
      header.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
      // The one control message sits at the start of the buffer (what CMSG_FIRSTHDR gives
      // for a buffer this large; its null check only confuses the compiler here).
      auto* message = reinterpret_cast<cmsghdr*>(control);
      message->cmsg_level = SOL_SOCKET;
      message->cmsg_type = SCM_RIGHTS;
      message->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
      std::memcpy(CMSG_DATA(message), fds.data(), sizeof(int) * fds.size());
    }
    const ssize_t written = ::sendmsg(socket, &header, MSG_NOSIGNAL);
    if (written < 0) {
      if (errno == EINTR) {
        continue;
      }
      throw_errno("send_frame");
    }
    sent += static_cast<std::size_t>(written);
  }
}

bool read_into(int socket, FrameReader& reader, std::vector<plugin::UniqueFd>* fds) {
  char buffer[64 * 1024];
  alignas(cmsghdr) char control[CMSG_SPACE(sizeof(int) * k_max_fds)];
  for (;;) {
    iovec data{buffer, sizeof buffer};
    msghdr header{};
    header.msg_iov = &data;
    header.msg_iovlen = 1;
    header.msg_control = control;
    header.msg_controllen = sizeof control;
    const ssize_t got = ::recvmsg(socket, &header, MSG_CMSG_CLOEXEC);
    if (got < 0) {
      if (errno == EINTR) {
        continue;
      }
      throw_errno("read_into");
    }
    for (cmsghdr* message = CMSG_FIRSTHDR(&header); message != nullptr;
         message = CMSG_NXTHDR(&header, message)) {
      if (message->cmsg_level != SOL_SOCKET || message->cmsg_type != SCM_RIGHTS) {
        continue;
      }
      const std::size_t count = (message->cmsg_len - CMSG_LEN(0)) / sizeof(int);
      for (std::size_t i = 0; i < count; ++i) {
        int fd = -1;
        std::memcpy(&fd, CMSG_DATA(message) + i * sizeof(int), sizeof fd);
        plugin::UniqueFd owned(fd);
        if (fds != nullptr) {
          fds->push_back(std::move(owned));
        }
      }
    }
    if (got == 0) {
      return false;
    }
    reader.append(buffer, static_cast<std::size_t>(got));
    return true;
  }
}

} // namespace pgtq::queue::worker
