#include "support/private_server.hpp"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <stdexcept>

namespace pgtq::test {
namespace {

const char* k_pg_bin = "/usr/lib/postgresql/15/bin";

// The command line wrapped to run as the server's owner.
std::string as_owner(const std::string& command) {
  return ::geteuid() == 0 ? "runuser -u postgres -- " + command : command;
}

void run(const std::string& command) {
  if (std::system(command.c_str()) != 0) {
    throw std::runtime_error("command failed: " + command);
  }
}

} // namespace

PrivateServer::PrivateServer() {
  char dir_template[] = "/tmp/pgtq-private-pg-XXXXXX";
  if (::mkdtemp(dir_template) == nullptr) {
    throw std::runtime_error("mkdtemp failed");
  }
  m_dir = dir_template;
  if (::geteuid() == 0) {
    run("chown postgres: " + m_dir);
  }
  run(as_owner(std::string(k_pg_bin) + "/initdb -D " + m_dir + "/data -U postgres -A trust " +
               "-E UTF8 --locale=C >" + m_dir + "/initdb.log 2>&1"));
  m_dsn = "host=" + m_dir + " port=5432 user=postgres dbname=postgres";
  start();
}

PrivateServer::~PrivateServer() {
  try {
    pg_ctl("-m immediate stop");
  } catch (const std::exception&) {
    // Already stopped.
  }
  std::error_code ignored;
  std::filesystem::remove_all(m_dir, ignored);
}

void PrivateServer::pg_ctl(const std::string& arguments) const {
  run(as_owner(std::string(k_pg_bin) + "/pg_ctl -D " + m_dir + "/data -w -l " + m_dir +
               "/server.log " + arguments + " >/dev/null 2>&1"));
}

void PrivateServer::start() {
  pg_ctl("-o \"-c listen_addresses='' -c unix_socket_directories=" + m_dir +
         " -c fsync=off -c max_connections=50\" start");
}

void PrivateServer::stop() {
  pg_ctl("-m fast stop");
}

} // namespace pgtq::test
