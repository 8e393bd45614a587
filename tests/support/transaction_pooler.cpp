#include "support/transaction_pooler.hpp"

#include "support/tcp_proxy.hpp"

#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <thread>

namespace pgtq::test {
namespace {

constexpr int k_port = 6432;

// Whether something accepts connections on the Unix socket at path: the file appears when
// pgbouncer binds it, a moment before it listens (a connection then is refused).
bool accepts(const std::string& path) {
  const int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    return false;
  }
  sockaddr_un address{};
  address.sun_family = AF_UNIX;
  path.copy(address.sun_path, sizeof address.sun_path - 1);
  const bool connected =
      ::connect(fd, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0;
  ::close(fd);
  return connected;
}

void run(const std::string& command) {
  if (std::system(command.c_str()) != 0) {
    throw std::runtime_error("command failed: " + command);
  }
}

} // namespace

TransactionPooler::TransactionPooler(const std::string& server_socket_dir) {
  char dir_template[] = "/tmp/pgtq-pooler-XXXXXX";
  if (::mkdtemp(dir_template) == nullptr) {
    throw std::runtime_error("mkdtemp failed");
  }
  m_dir = dir_template;
  std::ofstream(m_dir + "/users.txt") << "\"postgres\" \"\"\n";
  std::ofstream(m_dir + "/pgbouncer.ini") << "[databases]\n"
                                          << "* = host=" << server_socket_dir << " port=5432\n"
                                          << "[pgbouncer]\n"
                                          << "listen_addr =\n"
                                          << "listen_port = " << k_port << "\n"
                                          << "unix_socket_dir = " << m_dir << "\n"
                                          << "auth_type = trust\n"
                                          << "auth_file = " << m_dir << "/users.txt\n"
                                          << "pool_mode = transaction\n"
                                          << "default_pool_size = 4\n"
                                          << "max_client_conn = 100\n"
                                          << "logfile = " << m_dir << "/pgbouncer.log\n"
                                          << "pidfile = " << m_dir << "/pgbouncer.pid\n";
  const bool root = ::geteuid() == 0;
  if (root) {
    run("chown -R postgres: " + m_dir);
  }
  run(std::string(root ? "runuser -u postgres -- " : "") + "/usr/sbin/pgbouncer -d -q " + m_dir +
      "/pgbouncer.ini");
  const std::string socket = m_dir + "/.s.PGSQL." + std::to_string(k_port);
  for (int i = 0; i < 500 && !accepts(socket); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  if (!accepts(socket)) {
    throw std::runtime_error("pgbouncer did not start: " + log());
  }
}

TransactionPooler::~TransactionPooler() {
  std::ifstream pidfile(m_dir + "/pgbouncer.pid");
  pid_t pid = 0;
  if (pidfile >> pid && pid > 0) {
    ::kill(pid, SIGINT);
    for (int i = 0; i < 200 && ::kill(pid, 0) == 0; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  std::error_code ignored;
  std::filesystem::remove_all(m_dir, ignored);
}

std::string TransactionPooler::route(const std::string& conninfo) const {
  return with_host_port(conninfo, m_dir, k_port);
}

std::string TransactionPooler::log() const {
  std::ifstream file(m_dir + "/pgbouncer.log");
  std::stringstream text;
  text << file.rdbuf();
  return text.str();
}

} // namespace pgtq::test
