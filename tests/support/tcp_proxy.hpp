#pragma once

#include <atomic>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace pgtq::test {

// A TCP proxy on 127.0.0.1 in front of the test server's Unix socket, which the test can
// cut (every connection dropped, new ones refused) and restore: a network partition between
// one daemon and the database, while everything else still reaches it.
class TcpProxy {
public:
  // socket_path: the server's Unix socket, e.g. /tmp/dir/.s.PGSQL.5432
  explicit TcpProxy(std::string socket_path);
  ~TcpProxy();
  TcpProxy(const TcpProxy&) = delete;
  TcpProxy& operator=(const TcpProxy&) = delete;

  int port() const { return m_port; }
  void cut();
  void restore();
  // A silent partition: connections stay open but nothing passes either way, and new ones
  // get no answer, so a client blocks (in connect or waiting for a result) until its own
  // timeouts give up. restore() ends it.
  void freeze();

private:
  void accept_loop();
  void pump(int from, int to);

  std::string m_socket_path;
  int m_listen_fd = -1;
  int m_port = 0;
  std::atomic<bool> m_stopping{false};
  std::atomic<bool> m_frozen{false};
  std::atomic<bool> m_cut{false};
  std::mutex m_mutex;
  std::vector<int> m_open; // both ends of every proxied connection
  std::vector<std::thread> m_threads;
  std::thread m_acceptor;
};

// The Unix socket path of a keyword=value conninfo with host=/dir and port=N.
std::string unix_socket_of(const std::string& conninfo);
// The same conninfo, pointed at another host (or socket directory) and port.
std::string with_host_port(const std::string& conninfo, const std::string& host, int port);
// The same conninfo, pointed at the proxy on 127.0.0.1:port.
std::string via_proxy(const std::string& conninfo, int port);

} // namespace pgtq::test
