#pragma once

// pgtqctl run as a process, as an operator runs it: its exit code and what it printed.

#include <doctest/doctest.h>

#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <string>
#include <vector>

namespace pgtq::test {

struct Run {
  int exit_code = -1;
  std::string output; // stdout and stderr
};

// Arguments are single-quoted for the shell; the tests pass no quotes of their own.
// --dsn goes before the subcommand, or after its arguments with dsn_last.
inline Run
pgtqctl(const std::string& dsn, const std::vector<std::string>& args, bool dsn_last = false) {
  const std::string dsn_option = " --dsn '" + dsn + "'";
  std::string command = std::string(PGTQ_TEST_BINARY_DIR) + "/daemon/pgtqctl";
  if (!dsn_last) {
    command += dsn_option;
  }
  for (const std::string& arg : args) {
    command += " '" + arg + "'";
  }
  if (dsn_last) {
    command += dsn_option;
  }
  command += " 2>&1";
  Run run;
  FILE* pipe = ::popen(command.c_str(), "r");
  REQUIRE(pipe != nullptr);
  std::array<char, 4096> buffer{};
  while (std::fgets(buffer.data(), buffer.size(), pipe) != nullptr) {
    run.output += buffer.data();
  }
  const int status = ::pclose(pipe);
  run.exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return run;
}

} // namespace pgtq::test
