#pragma once

#include <chrono>
#include <string>

namespace pgtq::test {

// The NOTIFY_SOCKET datagram socket systemd would bind: give path() to pgtqd as
// NOTIFY_SOCKET and read what it says.
class NotifySocket {
public:
  NotifySocket();
  ~NotifySocket();
  NotifySocket(const NotifySocket&) = delete;
  NotifySocket& operator=(const NotifySocket&) = delete;

  const std::string& path() const { return m_path; }

  // Reads datagrams until one contains text; returns everything read meanwhile.
  std::string read_until(const std::string& text, std::chrono::milliseconds timeout);
  bool received(const std::string& text) const;
  // How many datagrams read so far contain text.
  int count(const std::string& text) const;

private:
  std::string m_path;
  int m_fd = -1;
  std::string m_received; // datagrams separated by "\n---\n"
};

} // namespace pgtq::test
