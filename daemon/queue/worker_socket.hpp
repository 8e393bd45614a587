#pragma once

#include "plugin/plugin_directory.hpp"
#include "queue/worker_protocol.hpp"

#include <string>
#include <vector>

// Frames (worker_protocol.hpp) over one end of a Unix stream socketpair, with file
// descriptors (SCM_RIGHTS) where a message carries them. Errors throw std::system_error.
namespace pgtq::queue::worker {

// Sends one whole frame, retrying after EINTR and partial writes; fds go with its first
// byte (at most 253, the kernel's limit per message). Never raises SIGPIPE: a peer that is
// gone is EPIPE.
void send_frame(int socket, const std::string& frame, const std::vector<int>& fds = {});

// Reads what the socket has (waiting for something if it is blocking) into reader, and the
// descriptors that came with it into fds (each close-on-exec), or closes them when fds is
// nullptr. Returns false at end of file (the peer closed its end or died).
bool read_into(int socket, FrameReader& reader, std::vector<plugin::UniqueFd>* fds = nullptr);

} // namespace pgtq::queue::worker
